"""Load mode: a synthetic fleet publishing at a fixed rate or as fast as one core allows, with
real readings (generated and encoded as in a run), reporting the rate it reached and CPU per message.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from firmware_sim.families import families
from firmware_sim.mqtt_publisher import MqttPublisher
from firmware_sim.progress import Progress
from firmware_sim.scenario import Scenario, parse_scenario
from firmware_sim.simulator import Simulator

TICK_MS = 100


def mixed_fleet(devices: int) -> dict[str, int]:
    """`devices` shared among the families by their load weight (firmware-sim/families/), the
    remainder to the first ones."""
    weights = {f.name: f.load_weight for f in families().values() if f.load_weight > 0}
    total, share, given = sum(weights.values()), 0, 0
    groups = {}
    for name, weight in weights.items():
        share += weight
        upto = -(-devices * share // total)  # ceiling: the first families take the remainder
        groups[name] = upto - given
        given = upto
    return groups


def load_scenario_for(devices: int, sensor_type: str, qos: int, seed: int) -> Scenario:
    """One district of `devices` devices reporting every second ("mixed": see `mixed_fleet`)."""
    groups = mixed_fleet(devices) if sensor_type == "mixed" else {sensor_type: devices}
    return parse_scenario(
        {
            "name": "load",
            "seed": seed,
            "clock": {"tick_ms": TICK_MS},
            "transport": {"kind": "mqtt", "qos": qos},
            "districts": [
                {
                    "name": "load",
                    "latitude": 52.37,
                    "longitude": 4.89,
                    "devices": {t: {"count": n, "interval_s": 1} for t, n in groups.items() if n},
                }
            ],
        },
        source="<load>",
    )


@dataclass(frozen=True)
class LoadResult:
    devices: int
    qos: int
    target_rate: float | None  # None: as fast as possible
    seconds: float
    messages: int
    delivered: int
    rate: float  # messages per second delivered (written for QoS 0, acknowledged for QoS 1)
    cpu_seconds: float
    cpu_us_per_message: float
    bytes_per_message: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def line(self) -> str:
        target = "max" if self.target_rate is None else f"{self.target_rate:,.0f}/s"
        return (
            f"load: qos {self.qos}, target {target}: {self.delivered:,} of {self.messages:,} "
            f"messages delivered in {self.seconds:.1f}s = {self.rate:,.0f} msg/s; "
            f"cpu {self.cpu_us_per_message:.1f} µs/msg ({self.bytes_per_message:.0f} B/msg)"
        )


def run_load(
    publisher: MqttPublisher,
    *,
    devices: int,
    rate: float | None,
    duration_s: float,
    qos: int,
    sensor_type: str = "mixed",
    seed: int = 0,
    progress: Progress | None = None,
) -> LoadResult:
    """Publish for `duration_s`; `rate` None means as fast as possible."""
    sim = Simulator(load_scenario_for(devices, sensor_type, qos, seed))
    cpu0, t0 = time.process_time(), time.monotonic()
    tick = sent = 0
    while True:
        now = time.monotonic()
        if now - t0 >= duration_s:
            break
        if rate is not None:
            ahead = t0 + sent / rate - now
            if ahead > 0:
                publisher.service(ahead)
                continue
        batch = sim.step(tick, t_ns=time.time_ns())
        tick += 1
        publisher.publish_many(batch.mqtt)
        sent += len(batch.mqtt)
        while publisher.client.want_write():
            publisher.service(0.005)
        if progress:
            progress.update(sent, 0)
    publisher.drain(timeout=30.0)
    seconds = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    return LoadResult(
        devices=devices,
        qos=qos,
        target_rate=rate,
        seconds=seconds,
        messages=sent,
        delivered=publisher.completed,
        rate=publisher.completed / seconds,
        cpu_seconds=cpu,
        cpu_us_per_message=cpu / max(sent, 1) * 1e6,
        bytes_per_message=publisher.bytes / max(sent, 1),
    )
