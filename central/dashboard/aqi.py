"""Air-quality indices computed from breakpoint tables kept as data (tables/*.json).

Two kinds of table: "linear" (US EPA: a sub-index interpolated inside a breakpoint row) and
"banded" (European EAQI: the index is the band whose limit the concentration does not exceed).
The overall index is the worst sub-index; its pollutant is the dominant one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Literal

from central.dashboard.errors import DashboardError, UnknownStandard

DEFAULT_STANDARD = "us_epa_2024"


@dataclass(frozen=True)
class Band:
    level: int  # 1 = best
    name: str
    color: str
    upper: int  # highest index value inside the band


@dataclass(frozen=True)
class Pollutant:
    field: str  # catalog field name, e.g. "pm25"
    label: str
    unit: str  # the table's unit
    input_unit: str  # the catalog's unit
    factor: float  # catalog value * factor = table unit
    average_h: int
    decimals: int
    breakpoints: tuple[tuple[float, float, int, int], ...] = ()  # linear tables
    limits: tuple[float, ...] = ()  # banded tables: upper limit of each band


@dataclass(frozen=True)
class SubIndex:
    pollutant: str
    concentration: float  # in the table's unit, truncated as the standard says
    index: int
    band: Band


@dataclass(frozen=True)
class Assessment:
    index: int
    band: Band
    dominant: str
    sub_indices: tuple[SubIndex, ...]


@dataclass(frozen=True)
class Standard:
    id: str
    name: str
    source: str
    kind: Literal["linear", "banded"]
    bands: tuple[Band, ...]
    pollutants: dict[str, Pollutant]

    def band_of(self, index: int) -> Band:
        for band in self.bands:
            if index <= band.upper:
                return band
        return self.bands[-1]

    def sub_index(self, field: str, value: float) -> SubIndex | None:
        """The sub-index of one catalog field's value; None if the standard does not rate it."""
        p = self.pollutants.get(field)
        if p is None or not math.isfinite(value) or value < 0:
            return None
        c = _truncate(value * p.factor, p.decimals)
        if self.kind == "banded":
            level = next((i + 1 for i, lim in enumerate(p.limits) if c <= lim), len(p.limits))
            return SubIndex(field, c, level, self.bands[level - 1])
        index = _interpolate(p.breakpoints, c)
        return SubIndex(field, c, index, self.band_of(index))

    def assess(self, values: Mapping[str, float | None]) -> Assessment | None:
        """The overall index of one sensor's averaged values; None if none is rated."""
        subs = [
            s
            for field, v in values.items()
            if v is not None and (s := self.sub_index(field, v)) is not None
        ]
        if not subs:
            return None
        worst = max(subs, key=lambda s: s.index)
        return Assessment(worst.index, worst.band, worst.pollutant, tuple(subs))

    def describe(self) -> dict[str, object]:
        """The table as plain data for the browser (legend and band shading)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "bands": [
                {"level": b.level, "name": b.name, "color": b.color, "upper": b.upper}
                for b in self.bands
            ],
            "pollutants": {
                f: {
                    "label": p.label,
                    "unit": p.unit,
                    "factor": p.factor,
                    "average_h": p.average_h,
                    "breakpoints": [list(r) for r in p.breakpoints],
                    "limits": list(p.limits),
                }
                for f, p in self.pollutants.items()
            },
        }


def _truncate(value: float, decimals: int) -> float:
    # The standards truncate (not round) concentrations before looking them up.
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_DOWN))


def _interpolate(rows: tuple[tuple[float, float, int, int], ...], c: float) -> int:
    for bp_lo, bp_hi, i_lo, i_hi in rows:
        if c <= bp_hi:
            if c <= bp_lo:  # in a gap between rows (e.g. O3 8-hour to 1-hour): the row's floor
                return i_lo
            exact = (i_hi - i_lo) / (bp_hi - bp_lo) * (c - bp_lo) + i_lo
            return int(Decimal(repr(exact)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return rows[-1][3]  # beyond the table: the top of the scale


def _load(name: str) -> Standard:
    path = resources.files("central.dashboard") / "tables" / f"{name}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        bands = tuple(
            Band(level=i + 1, name=b["name"], color=b["color"], upper=int(b["upper"]))
            for i, b in enumerate(doc["bands"])
        )
        pollutants = {
            field: Pollutant(
                field=field,
                label=p["label"],
                unit=p["unit"],
                input_unit=p["input"]["unit"],
                factor=float(p["input"]["factor"]),
                average_h=int(p["average_h"]),
                decimals=int(p.get("decimals", 1)),
                breakpoints=tuple(
                    (float(a), float(b), int(c), int(d)) for a, b, c, d in p.get("breakpoints", [])
                ),
                limits=tuple(float(x) for x in p.get("limits", [])),
            )
            for field, p in doc["pollutants"].items()
        }
        kind = doc["kind"]
        if kind not in ("linear", "banded"):
            raise ValueError(f"kind {kind!r} is neither 'linear' nor 'banded'")
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise DashboardError(f"AQI table {path}: cannot be read: {exc!r}") from exc
    return Standard(doc["id"], doc["name"], doc.get("source", ""), kind, bands, pollutants)


def available() -> list[str]:
    """Names of the packaged standards."""
    folder = resources.files("central.dashboard") / "tables"
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


@cache
def standard(name: str = DEFAULT_STANDARD) -> Standard:
    """A packaged standard by name ("us_epa_2024", "eaqi")."""
    known = available()
    if name not in known:
        raise UnknownStandard(f"unknown AQI standard {name!r}; known: {', '.join(known)}")
    return _load(name)
