"""Where districts and sensors are on the map: from a sites file when one is given, otherwise (and
for sensors the file does not list) a stable place inside their district.

The map is drawn from these latitude/longitude pairs; nothing comes from a tile server.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from edge.catalog import load_catalog
from edge.errors import SitesError
from edge.sites import District, Site, from_geojson, offset


@dataclass
class SiteRegistry:
    districts: dict[str, District] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> SiteRegistry:
        """The districts and sensors of a sites file (edge.sites; `citygate sim sites` writes one)."""
        try:
            doc = msgspec.json.decode(path.read_bytes())
        except OSError as exc:
            raise SitesError(f"cannot read the sites file {path}: {exc.strerror}") from exc
        except msgspec.DecodeError as exc:
            raise SitesError(f"{path}: not JSON: {exc}") from exc
        try:
            districts, sites = from_geojson(doc)
        except SitesError as exc:
            raise SitesError(f"{path}: {exc}") from exc
        return cls({d.name: d for d in districts}, {s.sensor_id: s for s in sites})

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
            name, *offset(lat, lon, ring_m * math.cos(angle), ring_m * math.sin(angle)), 1000.0
        )
        self.districts[name] = found
        return found

    def site(self, sensor_id: str, sensor_type: str, district: str) -> Site:
        """The sensor's site, made up stably (from a hash of its id) if the sites file lacks it."""
        found = self.sites.get(sensor_id)
        if found is not None:
            return found
        d = self.district(district or "unknown")
        radius = d.radius_m * math.sqrt(_unit(sensor_id, "r"))
        angle = _unit(sensor_id, "a") * 2 * math.pi
        spec = load_catalog().get(sensor_type)
        lat, lon = offset(
            d.latitude, d.longitude, radius * math.cos(angle), radius * math.sin(angle)
        )
        found = Site(
            sensor_id,
            sensor_type,
            d.name,
            round(lat, 6),
            round(lon, 6),
            spec.interval_s if spec else 60.0,
        )
        self.sites[sensor_id] = found
        return found


def _unit(text: str, salt: str) -> float:
    """A stable number in [0, 1) from `text`."""
    digest = hashlib.blake2b(f"{salt}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
