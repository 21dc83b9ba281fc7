"""The fleet a scenario describes: one row per device (id, type, place, interval, transport) and a
time wheel that says which devices report at a given tick.

Devices of the same interval are spread over the ticks of that interval by a seeded offset, so a
city of 20,000 one-second devices sends an even 2,000 readings every 100 ms tick, not a burst.
Cameras stand at the junctions of their district's signal controllers, one per controller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from edge.catalog import load_catalog
from edge.reading import Location
from edge.sites import offset
from firmware_sim.families import families
from firmware_sim.scenario import MqttTransport, Scenario, SerialTransport

_M_PER_DEG_LAT = 111_320.0
# A device beside another (a junction camera) hangs on a pole at the corner, a few metres from
# the other's cabinet.
BESIDE_OFFSET_M: Final = (6.0, 6.0)


@dataclass(frozen=True)
class Device:
    index: int
    sensor_id: str
    sensor_type: str
    district: str
    location: Location
    interval_ticks: int
    transport: MqttTransport | SerialTransport
    junction: int = -1  # the device it stands beside (a camera's signal controller); -1: none


class _Wheel:
    """Devices of one interval, bucketed by their offset within it."""

    def __init__(self, interval: int, devices: np.ndarray, offsets: np.ndarray) -> None:
        self.interval = interval
        order = np.argsort(offsets, kind="stable")
        devices, offsets = devices[order], offsets[order]
        bounds = np.searchsorted(offsets, np.arange(interval + 1))
        self.buckets = [np.sort(devices[bounds[i] : bounds[i + 1]]) for i in range(interval)]

    def due(self, tick: int) -> np.ndarray:
        return self.buckets[tick % self.interval]


class Fleet:
    """All devices of a scenario, indexed 0..n-1 and grouped by sensor type."""

    def __init__(self, scenario: Scenario) -> None:
        catalog = load_catalog()
        sims = families()
        tick_s = scenario.clock.tick_ms / 1000
        rng = np.random.default_rng([scenario.seed & 0xFFFFFFFF, 1])
        self.devices: list[Device] = []
        self.district_names = [d.name for d in scenario.districts]
        district_of: list[int] = []
        offsets: list[int] = []
        for d_index, district in enumerate(scenario.districts):
            for sensor_type, group in district.devices.items():
                interval_s = group.interval_s or catalog.sensor(sensor_type).interval_s
                interval = max(1, round(interval_s / tick_s))
                transport = group.transport or scenario.transport
                radius = district.radius_m * np.sqrt(rng.random(group.count))
                angle = rng.random(group.count) * 2 * math.pi
                lat = district.latitude + radius * np.cos(angle) / _M_PER_DEG_LAT
                lon = district.longitude + radius * np.sin(angle) / (
                    _M_PER_DEG_LAT * math.cos(math.radians(district.latitude))
                )
                offsets.extend(rng.integers(0, interval, group.count).tolist())
                for n in range(group.count):
                    self.devices.append(
                        Device(
                            index=len(self.devices),
                            sensor_id=f"{district.name}-{sims[sensor_type].abbreviation}-{n + 1:05d}",
                            sensor_type=sensor_type,
                            district=district.name,
                            location=Location(
                                district.name, round(float(lat[n]), 6), round(float(lon[n]), 6)
                            ),
                            interval_ticks=interval,
                            transport=transport,
                        )
                    )
                    district_of.append(d_index)
            for family in sims.values():
                if family.beside is not None:
                    self._place_beside(d_index, district_of, family.name, family.beside)
        self.district = np.asarray(district_of, dtype=np.int64)
        self.index = {d.sensor_id: d.index for d in self.devices}
        self.by_type: dict[str, np.ndarray] = {}
        self._wheels: dict[str, list[_Wheel]] = {}
        offset_arr = np.asarray(offsets, dtype=np.int64)
        intervals = np.asarray([d.interval_ticks for d in self.devices], dtype=np.int64)
        types = np.asarray([d.sensor_type for d in self.devices], dtype=object)
        for kind in sims:
            members = np.flatnonzero(types == kind)
            if not len(members):
                continue
            self.by_type[kind] = members
            self._wheels[kind] = [
                _Wheel(
                    int(i),
                    members[intervals[members] == i],
                    offset_arr[members][intervals[members] == i],
                )
                for i in np.unique(intervals[members])
            ]

    def _place_beside(self, d_index: int, district_of: list[int], kind: str, host: str) -> None:
        """Put the district's devices of `kind` beside its devices of `host`, in order, one each
        (cameras at their controllers' junctions)."""
        mine = [d for d in self.devices if district_of[d.index] == d_index]
        hosts = [d for d in mine if d.sensor_type == host]
        guests = [d for d in mine if d.sensor_type == kind]
        for guest, at in zip(guests, hosts, strict=False):
            loc = at.location
            assert loc.latitude is not None and loc.longitude is not None
            lat, lon = offset(loc.latitude, loc.longitude, *BESIDE_OFFSET_M)
            self.devices[guest.index] = replace(
                guest,
                location=Location(loc.district, round(lat, 6), round(lon, 6)),
                junction=at.index,
            )

    def __len__(self) -> int:
        return len(self.devices)

    def due(self, sensor_type: str, tick: int) -> np.ndarray:
        """Sorted indices of the devices of one type that report at this tick."""
        wheels = self._wheels.get(sensor_type, [])
        if len(wheels) == 1:
            return wheels[0].due(tick)
        if not wheels:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate([w.due(tick) for w in wheels]))

    def messages_per_second(self, tick_ms: int) -> float:
        return sum(1000.0 / (d.interval_ticks * tick_ms) for d in self.devices)
