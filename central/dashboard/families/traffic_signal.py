"""The Traffic view: per signal controller its junction totals, cycle, the phase of each approach
and the faults it reports (detector fault codes, the conflict monitor), controllers with faults
first. Approaches and detectors come from the catalog's traffic-signal entry.
"""

from __future__ import annotations

import re
from typing import Any, Final

from central.dashboard.aqi import Standard
from central.dashboard.families import FAULT_COLOR, OK_COLOR, FamilyView, Marker, Row, Source
from edge.catalog import load_catalog

NAME: Final = "traffic_signal"
_FIELDS: Final = tuple(load_catalog().sensor(NAME).fields)
APPROACHES: Final = tuple(n.removeprefix("phase_") for n in _FIELDS if n.startswith("phase_"))
_DETECTOR_FAULTS: Final = tuple(n for n in _FIELDS if re.fullmatch(r"d\d+_fault", n))
# The view's columns; per-detector counts are asked for one junction at a time.
SUMMARY: Final = (
    "intensity",
    "occupancy",
    "averageVehicleSpeed",
    "cycleLength",
    "conflictMonitor",
    *(f"phase_{a}" for a in APPROACHES),
    *_DETECTOR_FAULTS,
)


def _build(source: Source, standard: Standard) -> list[Row]:
    latest = source.cached(f"latest:{NAME}", lambda: source.history.latest(NAME, SUMMARY, "-1h"))
    rows = []
    for sid, row in latest.items():
        f = row["fields"]
        faults = sorted(
            {
                f"{k.removesuffix('_fault')}:{f[k]}"
                for k in _DETECTOR_FAULTS
                if k in f and f[k] not in ("none", None)
            }
        )
        if f.get("conflictMonitor"):
            faults.insert(0, "conflict_monitor")
        rows.append(
            {
                "sensor_id": sid,
                "district": row["district"],
                "last_seen": row["last_seen"],
                "intensity": f.get("intensity"),
                "occupancy": f.get("occupancy"),
                "averageVehicleSpeed": f.get("averageVehicleSpeed"),
                "cycleLength": f.get("cycleLength"),
                "phases": {a: f.get(f"phase_{a}") for a in APPROACHES},
                "faults": faults,
            }
        )
    rows.sort(key=lambda r: (not r["faults"], r["district"], r["sensor_id"]))  # faults first
    return rows


def _marker(row: Row) -> Marker:
    if row.get("faults") or "flashing" in row.get("phases", {}).values():
        return Marker("fault", FAULT_COLOR, ", ".join(row.get("faults") or ["flashing"]))
    return Marker("ok", OK_COLOR, "signal ok")


def _rows(view: Any) -> list[Row]:
    rows: list[Row] = view
    return rows


VIEW = FamilyView(
    NAME,
    path="traffic",
    build=_build,
    rows=_rows,
    marker=_marker,
    history_fields=("intensity", "occupancy", "averageVehicleSpeed"),
)
