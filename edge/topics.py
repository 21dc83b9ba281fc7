"""Kafka topic names and partition counts: the one place they are spelled out."""

from __future__ import annotations

from typing import Final

from edge.catalog import load_catalog

DEADLETTER: Final = "city.deadletter.v1"
GATEWAY_STATUS: Final = "city.gateway-status.v1"
ALERTS: Final = "city.alerts.v1"

# One reading topic per catalog type: adding a file to edge/sensors adds its topic.
SENSOR_TYPES: Final = tuple(sorted(load_catalog().types))


def reading_topic(sensor_type: str) -> str:
    """The Kafka topic that carries readings of one sensor type."""
    return f"city.{sensor_type}.v1"


# Reading topics get more partitions: they carry the volume and are keyed by sensor id.
PARTITIONS: Final[dict[str, int]] = {
    **{reading_topic(t): 6 for t in SENSOR_TYPES},
    DEADLETTER: 3,
    GATEWAY_STATUS: 3,
    ALERTS: 3,
}
