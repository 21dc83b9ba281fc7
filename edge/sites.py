"""Where districts and sensors are: the sites file, GeoJSON (RFC 7946) with one Polygon feature per
district and one Point feature per sensor. The simulator writes one for its scenario; the
dashboard reads one to draw the map. Pure data: callers read and write the bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edge.errors import SitesError

M_PER_DEG_LAT = 111_320.0
_RING_VERTICES = 32  # a district is drawn as a circle; 32 vertices are within 0.5% of its area


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


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point `north_m` metres north and `east_m` east of (lat, lon), on a local flat plane."""
    return (
        lat + north_m / M_PER_DEG_LAT,
        lon + east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat))),
    )


def to_geojson(districts: list[District], sites: list[Site]) -> dict[str, Any]:
    """A FeatureCollection; coordinates are [longitude, latitude] as GeoJSON orders them."""
    features: list[dict[str, Any]] = []
    for d in districts:
        ring = []
        for k in range(_RING_VERTICES):
            angle = 2 * math.pi * k / _RING_VERTICES
            lat, lon = offset(
                d.latitude, d.longitude, d.radius_m * math.cos(angle), d.radius_m * math.sin(angle)
            )
            ring.append([round(lon, 7), round(lat, 7)])
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"kind": "district", "name": d.name},
            }
        )
    for s in sites:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.longitude, s.latitude]},
                "properties": {
                    "kind": "sensor",
                    "sensor_id": s.sensor_id,
                    "sensor_type": s.sensor_type,
                    "district": s.district,
                    "interval_s": s.interval_s,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def from_geojson(doc: Any) -> tuple[list[District], list[Site]]:
    """Districts (centre and mean radius of each polygon's ring) and sensor sites."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise SitesError("a sites file is a GeoJSON FeatureCollection")
    districts: list[District] = []
    sites: list[Site] = []
    for n, feature in enumerate(doc.get("features") or []):
        try:
            props = feature["properties"]
            geometry = feature["geometry"]
            if props["kind"] == "district":
                districts.append(_district(props["name"], geometry["coordinates"][0]))
            elif props["kind"] == "sensor":
                lon, lat = geometry["coordinates"][:2]
                sites.append(
                    Site(
                        str(props["sensor_id"]),
                        str(props["sensor_type"]),
                        str(props["district"]),
                        float(lat),
                        float(lon),
                        float(props["interval_s"]),
                    )
                )
            else:
                raise SitesError(
                    f"feature {n}: kind {props['kind']!r} is neither district nor sensor"
                )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            if isinstance(exc, SitesError):
                raise
            raise SitesError(f"feature {n}: {type(exc).__name__}: {exc}") from exc
    return districts, sites


def _district(name: str, ring: list[list[float]]) -> District:
    points = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    if len(points) < 3:
        raise SitesError(f"district {name!r}: a polygon needs at least 3 corners")
    lon = sum(float(p[0]) for p in points) / len(points)
    lat = sum(float(p[1]) for p in points) / len(points)
    scale = math.cos(math.radians(lat))
    radius = sum(
        math.hypot((float(p[1]) - lat) * M_PER_DEG_LAT, (float(p[0]) - lon) * M_PER_DEG_LAT * scale)
        for p in points
    ) / len(points)
    return District(str(name), lat, lon, radius)
