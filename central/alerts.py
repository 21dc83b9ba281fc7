"""Alerts and their lifecycle: raised once, held with hysteresis, cleared when the condition ends.

Rules and detectors report `Finding`s per reading; the `AlertTracker` turns them into alert
transitions keyed by (sensor, type). Re-delivered readings are skipped before they get here
(`central.detect.Detector`), so they never raise an alert twice.
"""

from __future__ import annotations

from collections.abc import Iterable, KeysView
from dataclasses import dataclass

import msgspec

from edge.messages import Alert, Severity

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Finding:
    """A condition that holds at one reading; `type` names it (per field where it matters)."""

    type: str
    severity: Severity
    value: float | None
    explanation: str


@dataclass(frozen=True)
class SensorRef:
    """What an alert needs to say about the sensor it is about."""

    sensor_id: str
    sensor_type: str
    district: str = ""


@dataclass
class _Open:
    alert: Alert
    absent: int = 0


class AlertTracker:
    """Raised/cleared transitions per (sensor, type), with hysteresis on clearing.

    An open alert clears after `clear_after` consecutive readings of its sensor without its
    finding (or by `clear_sensor_type` from a clock-driven rule such as silence).
    """

    def __init__(self, clear_after: int = 3) -> None:
        if clear_after < 1:
            raise ValueError(f"clear_after={clear_after}: expected at least 1")
        self.clear_after = clear_after
        self._open: dict[str, dict[str, _Open]] = {}

    def has_open(self, sensor_id: str) -> bool:
        return sensor_id in self._open

    @property
    def open_sensors(self) -> KeysView[str]:
        """The sensors with at least one open alert (a live view)."""
        return self._open.keys()

    def open_alerts(self, sensor_id: str) -> list[Alert]:
        return [o.alert for o in self._open.get(sensor_id, {}).values()]

    def update(
        self, sensor: SensorRef, seq: int, ts: int, findings: Iterable[Finding]
    ) -> list[Alert]:
        """Apply the findings of one reading; returns the transitions it caused."""
        current = {f.type: f for f in findings}
        opened = self._open.setdefault(sensor.sensor_id, {})
        out: list[Alert] = []
        for type_, finding in current.items():
            held = opened.get(type_)
            if held is not None:
                held.absent = 0
                continue
            out.append(self._raise(opened, sensor, finding, seq, ts))
        for type_, held in list(opened.items()):
            if type_ in current:
                continue
            held.absent += 1
            if held.absent >= self.clear_after:
                out.append(self._clear(opened, type_, seq, ts))
        if not opened:  # only sensors with open alerts stay (`open_sensors`)
            del self._open[sensor.sensor_id]
        return out

    def raise_now(self, sensor: SensorRef, finding: Finding, seq: int, ts: int) -> Alert | None:
        """Raise one alert from outside the reading stream (a clock-driven rule such as silence);
        None if it is already open. Other open alerts of the sensor are not touched."""
        opened = self._open.setdefault(sensor.sensor_id, {})
        if finding.type in opened:
            return None
        return self._raise(opened, sensor, finding, seq, ts)

    def _raise(
        self, opened: dict[str, _Open], sensor: SensorRef, finding: Finding, seq: int, ts: int
    ) -> Alert:
        alert = Alert(
            alert_id=f"{sensor.sensor_id}:{finding.type}:{seq}",
            sensor_id=sensor.sensor_id,
            sensor_type=sensor.sensor_type,
            district=sensor.district,
            type=finding.type,
            severity=finding.severity,
            state="raised",
            start=ts,
            end=None,
            value=finding.value,
            explanation=finding.explanation,
            seq=seq,
        )
        opened[finding.type] = _Open(alert)
        return alert

    def clear(self, sensor_id: str, type_: str, seq: int, ts: int) -> Alert | None:
        """Clear one open alert now (a condition that ended outside the reading stream)."""
        opened = self._open.get(sensor_id)
        if opened is None or type_ not in opened:
            return None
        cleared = self._clear(opened, type_, seq, ts)
        if not opened:
            del self._open[sensor_id]
        return cleared

    def _clear(self, opened: dict[str, _Open], type_: str, seq: int, ts: int) -> Alert:
        raised = opened.pop(type_).alert
        return msgspec.structs.replace(
            raised,
            state="cleared",
            end=ts,
            seq=seq,
            explanation=f"cleared: {raised.explanation}",
        )

    def drop(self, sensor_id: str) -> None:
        """Forget a sensor (its partition moved to another consumer)."""
        self._open.pop(sensor_id, None)
