"""The liveness rule on its own: heartbeats and a clock in, offline/online transitions out."""

from __future__ import annotations

from central.config import Liveness
from central.liveness import LivenessWatch
from edge.messages import GatewayStatus

S = 1_000_000_000


def beat(ts_s: float, gw: str = "gw-1") -> GatewayStatus:
    return GatewayStatus(gateway_id=gw, ts=int(ts_s * S), uptime_s=ts_s)


def watch() -> LivenessWatch:
    return LivenessWatch(Liveness(default_interval_s=5.0, missed_beats=3.0, forget_after_s=600))


def test_learns_interval_and_raises_after_three_missed_beats() -> None:
    w = watch()
    for t in (0, 2, 4, 6):
        assert w.beat(beat(t)) == []
    assert w.check(int(11.9 * S)) == []  # 5.9 s quiet: under 3 x 2 s
    (alert,) = w.check(int(12.5 * S))
    assert (alert.type, alert.severity, alert.state, alert.sensor_id) == (
        "gateway_offline",
        "critical",
        "raised",
        "gw-1",
    )
    assert w.check(13 * S) == []  # raised once
    assert w.offline == 1
    (cleared,) = w.beat(beat(20))
    assert cleared.state == "cleared" and cleared.alert_id == alert.alert_id
    assert cleared.end == 20 * S and w.offline == 0


def test_outage_gap_does_not_stretch_the_interval() -> None:
    w = watch()
    for t in (0, 2, 4):
        w.beat(beat(t))
    w.check(20 * S)
    w.beat(beat(60))  # back after a long outage
    assert w.check(int(66.5 * S))  # still judged against ~2 s, not the 56 s gap


def test_default_interval_until_learned_and_old_history_forgotten() -> None:
    w = watch()
    w.beat(beat(0))
    assert w.check(14 * S) == []  # 3 x 5 s default
    assert len(w.check(16 * S)) == 1
    old = watch()
    old.beat(beat(0, "gw-old"))
    assert old.check(700 * S) == []  # beyond forget_after_s: a replay of history, no alert


def test_replayed_heartbeat_changes_nothing() -> None:
    w = watch()
    w.beat(beat(10))
    assert w.beat(beat(5)) == []
    assert w.gateways["gw-1"].last_ts == 10 * S
