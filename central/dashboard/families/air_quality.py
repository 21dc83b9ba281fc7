"""The Air view: per monitor its latest values and the air-quality index under the standard asked
for (sub-indices and the dominant pollutant, from the averages the standard prescribes), and per
district the worst monitor's index, monitors that need attention first (central/dashboard/aqi.py).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from central.dashboard.aqi import Standard
from central.dashboard.families import OK_COLOR, FamilyView, Marker, Row, Source

NAME: Final = "air_quality"
_FIELDS: Final = ("pm1", "pm25", "pm10", "no2", "o3", "co", "temperature", "relativeHumidity")


def _build(source: Source, standard: Standard) -> dict[str, Any]:
    """AQI per sensor (with dominant pollutant and sub-indices) and per district (worst)."""
    history = source.history
    latest = source.cached(f"latest:{NAME}", lambda: history.latest(NAME, _FIELDS, "-1h"))
    by_hours: dict[int, list[str]] = {}
    for field_name, p in standard.pollutants.items():
        by_hours.setdefault(p.average_h, []).append(field_name)
    means: dict[str, dict[str, float]] = {}
    for hours, fields in sorted(by_hours.items()):
        # Long averages change slowly; recomputing them every few seconds would only load InfluxDB.
        got = source.cached(
            f"means:{hours}:{','.join(fields)}",
            functools.partial(history.means, NAME, fields, hours),
            ttl=max(source.settings.cache_s, 30.0),
        )
        for sid, values in got.items():
            means.setdefault(sid, {}).update(values)
    sensors = []
    districts: dict[str, dict[str, Any]] = {}
    for sid, row in latest.items():
        assessment = standard.assess(means.get(sid, {}))
        entry = {
            "sensor_id": sid,
            "district": row["district"],
            "last_seen": row["last_seen"],
            "latest": row["fields"],
            "aqi": assessment.index if assessment else None,
            "band": assessment.band.name if assessment else None,
            "color": assessment.band.color if assessment else None,
            "dominant": assessment.dominant if assessment else None,
            "sub_indices": {
                s.pollutant: {"index": s.index, "concentration": s.concentration}
                for s in (assessment.sub_indices if assessment else ())
            },
        }
        sensors.append(entry)
        if assessment is None:
            continue
        d = districts.setdefault(
            row["district"], {"district": row["district"], "aqi": -1, "sensors": 0}
        )
        d["sensors"] += 1
        if assessment.index > d["aqi"]:
            d.update(
                aqi=assessment.index,
                band=assessment.band.name,
                color=assessment.band.color,
                dominant=assessment.dominant,
                worst_sensor=sid,
            )
    # Worst first: the table is paged, and the sensors that need attention lead it.
    sensors.sort(key=lambda s: (s["aqi"] is None, -(s["aqi"] or 0), s["district"], s["sensor_id"]))
    return {
        "standard": standard.describe(),
        "districts": sorted(districts.values(), key=lambda d: d["district"]),
        "sensors": sensors,
    }


def _marker(row: Row) -> Marker:
    if row.get("aqi") is not None:
        return Marker("aqi", row["color"], f"AQI {row['aqi']} {row['band']} ({row['dominant']})")
    return Marker("ok", OK_COLOR, "no AQI yet")


VIEW = FamilyView(
    NAME,
    path="air",
    build=_build,
    rows=lambda view: view["sensors"],
    marker=_marker,
    history_fields=("pm25", "pm10", "no2"),
    by_standard=True,
)
