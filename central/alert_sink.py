"""Alert transitions out: to city.alerts.v1 (JSON per alert.v1, key = sensor_id) and InfluxDB.

The producer is idempotent with acks=all. `publish` returns only when both Kafka and InfluxDB
have every alert, retrying Kafka like the InfluxDB writer does, so the caller may commit after it.
InfluxDB points: measurement "alerts", tags sensor_id, sensor_type, district, type, severity;
fields state, value, explanation, alert_id; time = the transition's time (start or end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import RetryCallState

from central.config import Influx, Kafka
from central.influx_writer import InfluxWriter, Wait
from central.line_protocol import field_text, series_key
from central.metrics import CentralMetrics
from deploy.retry import async_retrying
from edge.messages import Alert

log = structlog.get_logger("central.alerts")

MEASUREMENT = "alerts"
_encoder = msgspec.json.Encoder()


def alert_line(alert: Alert) -> str:
    series = series_key(
        MEASUREMENT,
        (
            ("sensor_id", alert.sensor_id),
            ("sensor_type", alert.sensor_type),
            ("district", alert.district),
            ("type", alert.type),
            ("severity", alert.severity),
        ),
    )
    fields = [
        f"state={field_text(alert.state)}",
        f"explanation={field_text(alert.explanation)}",
        f"alert_id={field_text(alert.alert_id)}",
    ]
    value = field_text(alert.value)
    if value is not None:
        fields.append(f"value={value}")
    at = alert.end if alert.state == "cleared" and alert.end is not None else alert.start
    return f"{series} {','.join(fields)} {at}"


class AlertSink:
    def __init__(
        self,
        kafka: Kafka,
        influx: Influx,
        topic: str,
        metrics: CentralMetrics,
        group: str,
    ) -> None:
        self.topic = topic
        self.metrics = metrics
        self.group = group
        self.kafka = kafka
        self.retry_min_s = influx.retry_min_s
        self.retry_max_s = influx.retry_max_s
        self.producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap,
            client_id=f"citygate-central-{group}-alerts",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=kafka.request_timeout_ms,
        )
        self.writer = InfluxWriter(influx, metrics, group, lines_per_request=5000, concurrency=1)

    async def start(self) -> None:
        await self.producer.start()

    async def close(self) -> None:
        await self.producer.stop()
        self.writer.close()

    async def publish(self, alerts: Sequence[Alert], wait: Wait) -> None:
        if not alerts:
            return
        await asyncio.gather(
            self._to_kafka(alerts, wait),
            self.writer.write([alert_line(a) for a in alerts], MEASUREMENT, wait),
        )
        for a in alerts:
            self.metrics.alerts.labels(a.type.split(":", 1)[0], a.severity, a.state).inc()
            log.info(
                "alert",
                alert_id=a.alert_id,
                state=a.state,
                type=a.type,
                severity=a.severity,
                sensor_id=a.sensor_id,
                district=a.district,
            )

    async def _to_kafka(self, alerts: Sequence[Alert], wait: Wait) -> None:
        def failed(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.metrics.write_errors.labels(self.group, "kafka", type(exc).__name__).inc()
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning("alert_publish_failed", error=repr(exc), retry_in_s=round(delay, 2))

        async for attempt in async_retrying(
            self.retry_min_s, self.retry_max_s, KafkaError, sleep=wait, before_sleep=failed
        ):
            with attempt:
                futures = [
                    await self.producer.send(
                        self.topic,
                        _encoder.encode(a),
                        key=a.sensor_id.encode(),
                    )
                    for a in alerts
                ]
                await asyncio.gather(*futures)
