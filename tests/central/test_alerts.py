"""Alert lifecycle: raised once, hysteresis before clearing, duplicate (sensor, seq) skipped."""

from __future__ import annotations

from central.alerts import AlertTracker, Finding, SensorRef

REF = SensorRef("aq-1", "air_quality", "north")
HOT = Finding("pm25_above_pm10", "warning", 40.0, "pm25 above pm10")


def test_raised_once_held_then_cleared_after_hysteresis() -> None:
    tracker = AlertTracker(clear_after=3)
    pattern = [True, True, False, True, False, False, False, False]
    transitions = []
    for seq, present in enumerate(pattern):
        transitions.append(tracker.update(REF, seq, seq * 10, [HOT] if present else []))
    raised = [a for t in transitions for a in t if a.state == "raised"]
    cleared = [a for t in transitions for a in t if a.state == "cleared"]
    assert len(raised) == 1 and raised[0].start == 0 and raised[0].end is None
    # One absent reading (seq 2) does not clear; three in a row (seq 4, 5, 6) do.
    assert len(cleared) == 1 and cleared[0].seq == 6 and cleared[0].end == 60
    assert cleared[0].alert_id == raised[0].alert_id
    assert transitions[7] == []


def test_raise_now_and_clear_leave_other_alerts_alone() -> None:
    tracker = AlertTracker(clear_after=1)
    tracker.update(REF, 1, 10, [HOT])
    silence = Finding("silence", "warning", 300.0, "quiet")
    assert tracker.raise_now(REF, silence, 1, 400) is not None
    assert tracker.raise_now(REF, silence, 1, 500) is None
    assert {a.type for a in tracker.open_alerts("aq-1")} == {"pm25_above_pm10", "silence"}
    cleared = tracker.clear("aq-1", "silence", 2, 600)
    assert cleared is not None and cleared.state == "cleared"
    assert [a.type for a in tracker.open_alerts("aq-1")] == ["pm25_above_pm10"]
