"""The records citygate puts on Kafka besides readings and dead letters, one Struct each, with the
JSON Schema edge.record_schemas names for its topic: alert transitions (city.alerts.v1) and
gateway heartbeats (city.gateway-status.v1). Producers encode these Structs and consumers decode
them, so each message has one definition."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Severity = Literal["info", "warning", "critical"]
AlertState = Literal["raised", "cleared"]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert transition, as written to city.alerts.v1 and the InfluxDB "alerts" measurement
    (schema alert.v1).

    `alert_id` is the same for the raised and the cleared record of one episode, and is derived
    from the sensor, type and first seq, so re-processing produces the same id (idempotent writes).
    """

    alert_id: str
    sensor_id: str
    sensor_type: str
    district: str
    type: str
    severity: Severity
    state: AlertState
    start: int  # ns, timestamp of the reading that raised it
    end: int | None  # ns, timestamp of the reading that cleared it
    value: float | None
    explanation: str
    seq: int | None  # seq of the reading that caused this transition; None: not a reading's


class GatewayStatus(msgspec.Struct, frozen=True):
    """A gateway's heartbeat (schema gateway-status.v1): figures by name, open-ended."""

    gateway_id: str
    ts: int  # epoch ns
    uptime_s: float
    figures: dict[str, Any] = {}
