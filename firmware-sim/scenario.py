"""Scenario files: the YAML that describes a fleet, validated like every configuration
(deploy/settings.py).

A scenario names districts (centre, devices per sensor type), reporting intervals, the transport
(MQTT with a QoS, or serial with a codec), the seed and the faults. A wrong value fails at load
with the file, the key, the value and the expected form.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from deploy import settings
from deploy.settings import Before, Check, ConfigError, Section
from edge.catalog import load_catalog
from edge.serial_codecs import CODECS, CodecName
from firmware_sim.errors import ScenarioError
from firmware_sim.fault_kinds import KINDS, FaultType


def _catalog_type(value: str) -> str:
    known = load_catalog().types
    if value not in known:
        raise ValueError(f"expected a sensor type of the catalog: {', '.join(sorted(known))}")
    return value


# Any type of the sensor catalog: a new family needs no change here.
SensorTypeName = Annotated[str, Check(_catalog_type)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """'250ms', '30s', '5m', '2h', '1d' or a number of seconds -> seconds as float."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 30, '250ms', '30s', '5m', '2h' or '1d'")
        return float(match.group(1)) * _UNIT_S[match.group(2)]
    return value


Duration = Annotated[float, Before(parse_duration), Meta(ge=0)]


class MqttTransport(Section, frozen=True):
    kind: Literal["mqtt"] = "mqtt"
    qos: Literal[0, 1] = 1


class SerialTransport(Section, kw_only=True, frozen=True):
    kind: Literal["serial"]
    codec: CodecName  # a serial codec of the device's sensor family (edge/families/)


Transport = MqttTransport | SerialTransport  # told apart by `kind`


def _count_shorthand(value: Any) -> Any:
    return {"count": value} if isinstance(value, int) else value


class DeviceGroup(Section, kw_only=True, frozen=True):
    count: Annotated[int, Meta(ge=0, le=1_000_000)]
    interval_s: Annotated[float, Meta(gt=0, le=86400)] | None = None
    transport: Transport | None = None


class District(Section, kw_only=True, frozen=True):
    name: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=40)]
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]
    radius_m: Annotated[float, Meta(gt=0, le=50_000)] = 1500.0
    traffic_level: Annotated[float, Meta(gt=0, le=5)] = 1.0
    devices: dict[SensorTypeName, Annotated[DeviceGroup, Before(_count_shorthand)]]


class Selector(Section, frozen=True):
    district: str | None = None
    sensor_type: SensorTypeName | None = None
    sensors: list[str] | None = None
    count: Annotated[int, Meta(ge=1)] | None = None


class RandomFaults(Section, kw_only=True, frozen=True):
    rate_per_hour: Annotated[float, Meta(gt=0, le=3600)]


class FaultSpec(Section, kw_only=True, frozen=True):
    type: FaultType
    sensor: str | None = None
    selector: Selector | None = None
    start: Duration = 0.0
    duration: Annotated[float, Before(parse_duration), Meta(gt=0)]
    random: RandomFaults | None = None
    field: str | None = None
    magnitude: float | None = None

    def __post_init__(self) -> None:
        if self.sensor and self.selector:
            raise ValueError("give either 'sensor' or 'selector', not both")
        if not self.random and not (self.sensor or self.selector):
            raise ValueError("a scheduled fault needs 'sensor' or 'selector'")

    @property
    def effective_magnitude(self) -> float:
        return KINDS[self.type].default_magnitude if self.magnitude is None else self.magnitude


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA time zone such as 'Europe/Madrid'") from exc
    return value


def _aware(value: Literal["now"] | datetime) -> Literal["now"] | datetime:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("expected 'now' or an ISO time with a zone, e.g. 2024-05-13T07:00:00Z")
    return value


class Clock(Section, frozen=True):
    start: Annotated[Literal["now"] | datetime, Check(_aware)] = "now"
    tick_ms: Annotated[int, Meta(ge=10, le=1000)] = 100
    timezone: Annotated[str, Check(_known_zone)] = "UTC"


class Weather(Section, frozen=True):
    temperature_mean_c: Annotated[float, Meta(ge=-40, le=45)] = 15.0
    temperature_amplitude_c: Annotated[float, Meta(ge=0, le=20)] = 5.0
    humidity_mean: Annotated[float, Meta(ge=0.05, le=1.0)] = 0.65


def _some_districts(districts: list[District]) -> list[District]:
    if not districts:
        raise ValueError("expected at least one district")
    return districts


class Scenario(Section, kw_only=True, frozen=True):
    name: str
    description: str = ""
    seed: int = 0
    clock: Clock = Clock()
    weather: Weather = Weather()
    transport: Transport = MqttTransport()
    districts: Annotated[list[District], Check(_some_districts)]
    faults: list[FaultSpec] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        names = [d.name for d in self.districts]
        if len(set(names)) != len(names):
            raise ValueError(f"district names must be unique, got {names}")
        for district in self.districts:
            for sensor_type, group in district.devices.items():
                transport = group.transport or self.transport
                if group.count and isinstance(transport, SerialTransport):
                    # PM sensors cannot speak for a signal controller.
                    carries = CODECS[transport.codec].sensor_type
                    if carries != sensor_type:
                        raise ValueError(
                            f"districts.{district.name}.devices.{sensor_type}: codec "
                            f"{transport.codec!r} carries {carries}, not {sensor_type}"
                        )
        for i, fault in enumerate(self.faults):
            if fault.selector and fault.selector.district and fault.selector.district not in names:
                raise ValueError(
                    f"faults.{i}.selector.district: {fault.selector.district!r} is not one of {names}"
                )

    @property
    def device_count(self) -> int:
        return sum(g.count for d in self.districts for g in d.devices.values())


def load_scenario(path: str | Path, **overrides: Any) -> Scenario:
    """Read and validate a scenario; `overrides` replace top-level keys (e.g. seed=7)."""
    path = Path(path)
    try:
        raw = settings.read_yaml(path, "scenario")
    except ConfigError as exc:
        raise ScenarioError(str(exc), path=str(path)) from exc
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return parse_scenario(raw, source=str(path))


def parse_scenario(raw: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate through the configuration's error path: one line per problem, key and value."""

    def error(where: str, problems: list[str]) -> ScenarioError:
        message = f"scenario {where}: invalid scenario:\n  " + "\n  ".join(problems)
        return ScenarioError(message, path=where, key=problems[0].split(" = ", 1)[0])

    scenario: Scenario = settings.validate(Scenario, raw, source, error=error)
    return scenario
