"""Ground-truth evaluation of the alerts raised over labelled readings (the simulator's faults).

An alert matches a fault label when it is about the same sensor and starts inside the label's
interval (plus a grace period); matched alerts are true, the others false. Per fault type this
gives precision, recall, F1, the median detection delay in samples of that sensor, and the rate
of false alerts per 1,000 sensor-hours observed.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from central.families import families
from edge.messages import Alert
from edge.reading import Reading

_HOUR_NS = 3_600 * 1_000_000_000
ALL_FAULTS = "all"

# The fault each alert type is built to catch, so that its false alerts count against that
# fault's precision. Types named after a fault (out_of_range, pm25_above_pm10,
# conflicting_greens, stuck_phase, frozen_frame, ...) map to themselves; the shared rules' types
# map to the fault they are first meant for, and a family's own ones are declared by its module
# (central/families/). An alert of any type that matches a label (same sensor, inside the window)
# is a true alert of that label's fault. Alert types without a simulated fault (cycle_off_plan,
# counts_off_profile, detector_fault) count in the "all" row only.
FAULT_OF_ALERT: dict[str, str] = {
    "flatline": "stuck",
    "silence": "dropout",
    "anomaly": "spike",
    "district_disagreement": "drift",
    **{alert: fault for f in families().values() for alert, fault in f.alert_faults.items()},
}


@dataclass(frozen=True)
class FaultLabel:
    """A fault injected into one sensor over [start, end] (ns)."""

    sensor: str
    fault: str
    start: int
    end: int


@dataclass(frozen=True)
class FaultScore:
    fault: str
    labels: int
    detected: int
    true_alerts: int
    false_alerts: int
    precision: float
    recall: float
    f1: float
    median_delay_samples: float | None
    false_alerts_per_1000h: float


def evaluate_alerts(
    readings: Sequence[Reading],
    labels: Sequence[FaultLabel],
    alerts: Sequence[Alert],
    *,
    fault_of_alert: Callable[[str], str] | Mapping[str, str] | None = None,
    grace_ns: int = 0,
) -> dict[str, FaultScore]:
    """Score raised alerts against fault labels; one row per fault type plus "all".

    `fault_of_alert` maps an alert type's base name (before ":") to the fault it is meant to
    catch, so a false alert counts against that fault's precision; by default the base name is
    the fault name. A false alert whose fault has no labels still counts in the "all" row.
    """
    if fault_of_alert is None:
        mapping: Callable[[str], str] = lambda base: base  # noqa: E731
    elif isinstance(fault_of_alert, Mapping):
        table = fault_of_alert
        mapping = lambda base: table.get(base, base)  # noqa: E731
    else:
        mapping = fault_of_alert

    stamps: dict[str, list[int]] = defaultdict(list)
    for r in readings:
        stamps[r.sensor_id].append(r.ts)
    for ts in stamps.values():
        ts.sort()
    sensor_hours = sum((ts[-1] - ts[0]) / _HOUR_NS for ts in stamps.values() if ts)

    by_sensor: dict[str, list[FaultLabel]] = defaultdict(list)
    for label in labels:
        by_sensor[label.sensor].append(label)
    first_hit: dict[int, int] = {}  # label index -> start of its earliest matching alert
    true_by_fault: dict[str, int] = defaultdict(int)
    false_by_fault: dict[str, int] = defaultdict(int)
    index = {id(label): i for i, label in enumerate(labels)}
    for alert in alerts:
        if alert.state != "raised":
            continue
        match = next(
            (
                lb
                for lb in by_sensor.get(alert.sensor_id, ())
                if lb.start <= alert.start <= lb.end + grace_ns
            ),
            None,
        )
        if match is None:
            false_by_fault[mapping(alert.type.split(":", 1)[0])] += 1
            continue
        true_by_fault[match.fault] += 1
        i = index[id(match)]
        first_hit[i] = min(first_hit.get(i, alert.start), alert.start)

    delays: dict[str, list[int]] = defaultdict(list)
    for i, hit in first_hit.items():
        label = labels[i]
        ts = stamps.get(label.sensor, [])
        delays[label.fault].append(
            bisect.bisect_left(ts, hit) - bisect.bisect_left(ts, label.start)
        )

    faults = sorted({lb.fault for lb in labels})
    rows = {}
    for fault in [*faults, ALL_FAULTS]:
        chosen = [i for i, lb in enumerate(labels) if fault in (ALL_FAULTS, lb.fault)]
        tp = sum(true_by_fault.values()) if fault == ALL_FAULTS else true_by_fault[fault]
        fp = sum(false_by_fault.values()) if fault == ALL_FAULTS else false_by_fault[fault]
        detected = sum(1 for i in chosen if i in first_hit)
        d = [x for f, xs in delays.items() if fault in (ALL_FAULTS, f) for x in xs]
        rows[fault] = _row(fault, len(chosen), detected, tp, fp, d, sensor_hours)
    return rows


def _row(
    fault: str, labels: int, detected: int, tp: int, fp: int, delays: list[int], hours: float
) -> FaultScore:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = detected / labels if labels else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return FaultScore(
        fault=fault,
        labels=labels,
        detected=detected,
        true_alerts=tp,
        false_alerts=fp,
        precision=precision,
        recall=recall,
        f1=f1,
        median_delay_samples=float(statistics.median(delays)) if delays else None,
        false_alerts_per_1000h=1000.0 * fp / hours if hours > 0 else 0.0,
    )
