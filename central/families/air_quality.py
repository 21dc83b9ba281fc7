"""The air-quality family's rules: PM2.5 above PM10 (a faulty particle sensor), and its
particulates and gases judged against the district's other monitors (district consensus,
central/rules.py), for monitors that report PM2.5."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from central.alerts import Finding
from central.families import CentralFamily, ColumnCheck
from central.rules import number
from central.univariate import FloatArray
from edge.reading import FieldValue

_ABS_TOLERANCE = 2.0
_REL_TOLERANCE = 0.05


def pm25_above_pm10(
    fields: Mapping[str, FieldValue],
    abs_tolerance: float = _ABS_TOLERANCE,
    rel_tolerance: float = _REL_TOLERANCE,
) -> list[Finding]:
    """PM2.5 is a subset of PM10, so PM2.5 above PM10 (beyond sensor noise) is a faulty sensor."""
    pm25, pm10 = number(fields.get("pm25")), number(fields.get("pm10"))
    if pm25 is None or pm10 is None:
        return []
    if pm25 > pm10 + max(abs_tolerance, rel_tolerance * pm10):
        return [
            Finding(
                "pm25_above_pm10",
                "warning",
                pm25,
                f"pm25={pm25:g} exceeds pm10={pm10:g}: particle counts are inconsistent",
            )
        ]
    return []


def _pm_suspects(pm25: FloatArray, pm10: FloatArray) -> npt.NDArray[np.bool_]:
    """The rows `pm25_above_pm10` may find something in, over a batch's columns."""
    with np.errstate(invalid="ignore"):
        above: npt.NDArray[np.bool_] = pm25 > pm10 + np.maximum(
            _ABS_TOLERANCE, _REL_TOLERANCE * pm10
        )
    return above


FAMILY = CentralFamily(
    "air_quality",
    checks=(ColumnCheck(("pm25", "pm10"), _pm_suspects, pm25_above_pm10),),
    # Monitors are sited differently but see one district's air: a monitor that leaves its
    # usual relation to the others is the suspect.
    district_fields=("pm25", "pm10", "no2", "o3"),
    district_requires="pm25",
)
