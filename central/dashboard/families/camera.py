"""The Cameras view: per camera its latest counts (people, vehicles by class), crowd figures and
health (online, frame rate, tamper, low light), cameras with a reported problem first.

Vehicle classes come from the sensor catalog's camera entry, so a new class shows up here without
a change. What the unit reports about itself is a problem now; a frame rate or counts that are
off are judged by the detectors and shown as their alerts.
"""

from __future__ import annotations

from typing import Any, Final

from central.dashboard.aqi import Standard
from central.dashboard.families import FAULT_COLOR, OK_COLOR, FamilyView, Marker, Row, Source
from edge.catalog import load_catalog

NAME: Final = "camera"
_VEHICLE_PREFIX: Final = "intensity_"


def vehicle_classes() -> tuple[str, ...]:
    """The vehicle classes a camera counts, in catalog order ("car", "bus", ...)."""
    fields = load_catalog().sensor(NAME).fields
    return tuple(n.removeprefix(_VEHICLE_PREFIX) for n in fields if n.startswith(_VEHICLE_PREFIX))


def problems(fields: dict[str, Any]) -> list[str]:
    """What the camera reports wrong with itself: its stream lost, a tamper state."""
    found = []
    if fields.get("online") is False:
        found.append("offline")
    tamper = fields.get("tamper")
    if tamper not in (None, "none"):
        found.append(f"tamper:{tamper}")
    return found


def camera_rows(latest: dict[str, Any]) -> list[Row]:
    """The view's rows from `History.latest("camera", ...)`, problems first."""
    classes = vehicle_classes()
    rows = []
    for sid, row in latest.items():
        f = row["fields"]
        vehicles = {c: f.get(f"{_VEHICLE_PREFIX}{c}") for c in classes}
        rows.append(
            {
                "sensor_id": sid,
                "district": row["district"],
                "last_seen": row["last_seen"],
                "peopleCount": f.get("peopleCount"),
                "occupancy": f.get("occupancy"),
                "averageCrowdSpeed": f.get("averageCrowdSpeed"),
                "congested": f.get("congested"),
                "vehicles": vehicles,
                "online": f.get("online"),
                "frameRate": f.get("frameRate"),
                "tamper": f.get("tamper"),
                "lowLight": f.get("lowLight"),
                "problems": problems(f),
            }
        )
    rows.sort(key=lambda r: (not r["problems"], r["district"], r["sensor_id"]))
    return rows


def _build(source: Source, standard: Standard) -> dict[str, Any]:
    latest = source.cached(f"latest:{NAME}", lambda: source.history.latest(NAME, None, "-1h"))
    return {"classes": vehicle_classes(), "cameras": camera_rows(latest)}


def _marker(row: Row) -> Marker:
    if row.get("problems"):
        return Marker("fault", FAULT_COLOR, ", ".join(row["problems"]))
    people = row.get("peopleCount")
    return Marker(
        "ok", OK_COLOR, "camera ok" + (f", {people} people" if people is not None else "")
    )


VIEW = FamilyView(
    NAME,
    path="cameras",
    build=_build,
    rows=lambda view: view["cameras"],
    marker=_marker,
    history_fields=("peopleCount", "intensity_car", "frameRate"),
)
