"""Small builders shared by the simulator tests."""

from __future__ import annotations

from typing import Any

from firmware_sim.scenario import Scenario, parse_scenario

START = "2024-05-13T06:00:00Z"  # a Monday, 08:00 in Madrid: the morning rush


def scenario(
    *,
    air: int = 4,
    traffic: int = 4,
    cameras: int = 0,
    interval_s: float = 1.0,
    faults: list[dict[str, Any]] | None = None,
    seed: int = 5,
    start: str = START,
    transport: dict[str, Any] | None = None,
    **extra: Any,
) -> Scenario:
    return parse_scenario(
        {
            "name": "test",
            "seed": seed,
            "clock": {"start": start, "tick_ms": 100, "timezone": "Europe/Madrid"},
            "transport": transport or {"kind": "mqtt", "qos": 0},
            "districts": [
                {
                    "name": "centro",
                    "latitude": 40.4168,
                    "longitude": -3.7038,
                    "devices": {
                        "air_quality": {"count": air, "interval_s": interval_s},
                        "traffic_signal": {"count": traffic, "interval_s": interval_s},
                        **(
                            {"camera": {"count": cameras, "interval_s": interval_s}}
                            if cameras
                            else {}
                        ),
                    },
                }
            ],
            "faults": faults or [],
            **extra,
        }
    )
