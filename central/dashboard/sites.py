"""Where districts and sensors are on the map: from a simulator scenario's fleet when one is given,
otherwise (and for sensors the scenario does not know) a stable place inside their district.

The map is drawn from these latitude/longitude pairs; nothing comes from a tile server.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from edge.catalog import load_catalog

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class District:
    name: str
    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True)
class Site:
    sensor_id: str
    sensor_type: str
    district: str
    latitude: float
    longitude: float
    interval_s: float  # how often it should report


@dataclass
class SiteRegistry:
    districts: dict[str, District] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, path: Path) -> SiteRegistry:
        # The simulator is an optional neighbour: only a dashboard given a scenario needs it.
        from firmware_sim.fleet import Fleet
        from firmware_sim.scenario import load_scenario

        scenario = load_scenario(path)
        fleet = Fleet(scenario)
        tick_s = scenario.clock.tick_ms / 1000
        reg = cls()
        for d in scenario.districts:
            reg.districts[d.name] = District(d.name, d.latitude, d.longitude, d.radius_m)
        for dev in fleet.devices:
            reg.sites[dev.sensor_id] = Site(
                dev.sensor_id,
                dev.sensor_type,
                dev.district,
                dev.location.latitude or reg.districts[dev.district].latitude,
                dev.location.longitude or reg.districts[dev.district].longitude,
                dev.interval_ticks * tick_s,
            )
        return reg

    def district(self, name: str) -> District:
        """The district called `name`, placed on a ring around the known ones if it is new."""
        found = self.districts.get(name)
        if found is not None:
            return found
        if self.districts:
            lat = sum(d.latitude for d in self.districts.values()) / len(self.districts)
            lon = sum(d.longitude for d in self.districts.values()) / len(self.districts)
        else:
            lat, lon = 40.4168, -3.7038
        angle = _unit(name, "district") * 2 * math.pi
        ring_m = 3000.0 + 1500.0 * (len(self.districts) // 6)
        found = District(
            name,
            lat + ring_m * math.cos(angle) / _M_PER_DEG_LAT,
            lon + ring_m * math.sin(angle) / (_M_PER_DEG_LAT * math.cos(math.radians(lat))),
            1000.0,
        )
        self.districts[name] = found
        return found

    def site(self, sensor_id: str, sensor_type: str, district: str) -> Site:
        """The sensor's site, made up stably (from a hash of its id) if the scenario lacks it."""
        found = self.sites.get(sensor_id)
        if found is not None:
            return found
        d = self.district(district or "unknown")
        radius = d.radius_m * math.sqrt(_unit(sensor_id, "r"))
        angle = _unit(sensor_id, "a") * 2 * math.pi
        spec = load_catalog().get(sensor_type)
        found = Site(
            sensor_id,
            sensor_type,
            d.name,
            round(d.latitude + radius * math.cos(angle) / _M_PER_DEG_LAT, 6),
            round(
                d.longitude
                + radius * math.sin(angle) / (_M_PER_DEG_LAT * math.cos(math.radians(d.latitude))),
                6,
            ),
            spec.interval_s if spec else 60.0,
        )
        self.sites[sensor_id] = found
        return found


def _unit(text: str, salt: str) -> float:
    """A stable number in [0, 1) from `text`."""
    digest = hashlib.blake2b(f"{salt}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
