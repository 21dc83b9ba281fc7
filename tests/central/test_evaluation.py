"""Ground-truth evaluation on a tiny hand-made case."""

from __future__ import annotations

import pytest

from central.evaluation import FaultLabel, evaluate_alerts
from edge.messages import Alert
from edge.reading import Reading

H = 3_600 * 1_000_000_000
M = 60 * 1_000_000_000


def _alert(sensor: str, type_: str, start: int) -> Alert:
    return Alert(
        alert_id=f"{sensor}:{type_}:{start}",
        sensor_id=sensor,
        sensor_type="air_quality",
        district="north",
        type=type_,
        severity="warning",
        state="raised",
        start=start,
        end=None,
        value=None,
        explanation="",
        seq=0,
    )


def test_precision_recall_delay_and_false_rate() -> None:
    # Two sensors, one reading a minute for 10 hours: 20 sensor-hours (minus one minute each).
    readings = [
        Reading(sensor_id=s, sensor_type="air_quality", seq=i, ts=i * M, fields={})
        for s in ("a", "b")
        for i in range(601)
    ]
    labels = [
        FaultLabel("a", "flatline", 100 * M, 200 * M),
        FaultLabel("b", "flatline", 300 * M, 400 * M),
        FaultLabel("b", "spike", 500 * M, 505 * M),
    ]
    alerts = [
        _alert("a", "flatline:pm25", 130 * M),  # 30 samples late
        _alert("a", "flatline:pm25", 150 * M),  # same label again: true, no new detection
        _alert("b", "anomaly:pm25", 501 * M),  # 1 sample late
        _alert("a", "flatline:pm10", 50 * M),  # false
        _alert("b", "anomaly:pm25", 10 * M),  # false
    ]
    rows = evaluate_alerts(readings, labels, alerts, fault_of_alert={"anomaly": "spike"})
    flat, spike, everything = rows["flatline"], rows["spike"], rows["all"]
    assert (flat.labels, flat.detected, flat.true_alerts, flat.false_alerts) == (2, 1, 2, 1)
    assert flat.recall == 0.5 and flat.precision == pytest.approx(2 / 3)
    assert flat.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert flat.median_delay_samples == 30
    assert (spike.recall, spike.precision, spike.median_delay_samples) == (1.0, 0.5, 1)
    assert everything.recall == pytest.approx(2 / 3)
    assert everything.false_alerts_per_1000h == pytest.approx(1000 * 2 / 20)
