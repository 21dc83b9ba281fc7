"""Gateway health: why /healthz says degraded. The HTTP server itself is deploy.health."""

from __future__ import annotations


def degraded_reasons(
    *,
    journal_open: bool,
    mqtt_connected: bool,
    mqtt_subscribed: bool,
    kafka_connected: bool,
    oldest_unsent_age_s: float,
    max_unsent_age_s: float,
) -> list[str]:
    """Why /healthz says degraded; empty when the gateway is ok. A reachable Kafka is not
    enough: a backlog that does not shrink (oldest unsent record too old) is degraded too."""
    checks = {
        "journal_closed": not journal_open,
        "mqtt_disconnected": not mqtt_connected,
        "mqtt_not_subscribed": not mqtt_subscribed,
        "kafka_unreachable": not kafka_connected,
        "unsent_too_old": oldest_unsent_age_s > max_unsent_age_s,
    }
    return [reason for reason, failed in checks.items() if failed]
