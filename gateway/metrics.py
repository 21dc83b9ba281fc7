"""The gateway's Prometheus metrics, one registry per gateway instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "citygate_gateway_messages_in", "Messages taken from a source", ["source"], registry=r
        )
        self.messages_journaled = Counter(
            "citygate_gateway_messages_journaled",
            "Messages durable in the journal, and so acknowledged to the source",
            ["source"],
            registry=r,
        )
        self.redelivered = Counter(
            "citygate_gateway_mqtt_redelivered",
            "MQTT messages the broker redelivered (DUP): possible duplicates downstream",
            registry=r,
        )
        self.records_out = Counter(
            "citygate_gateway_records_out", "Records Kafka acknowledged", ["topic"], registry=r
        )
        self.decode_errors = Counter(
            "citygate_gateway_decode_errors", "Inputs that did not decode", ["source"], registry=r
        )
        self.deadletters = Counter(
            "citygate_gateway_deadletters",
            "Records routed to the dead-letter topic",
            ["source", "reason"],
            registry=r,
        )
        self.kafka_errors = Counter(
            "citygate_gateway_kafka_errors",
            "Failed Kafka deliveries (retried)",
            ["error"],
            registry=r,
        )
        self.kafka_connect_failures = Counter(
            "citygate_gateway_kafka_connect_failures",
            "Failed attempts to connect to Kafka (they back off exponentially)",
            registry=r,
        )
        self.kafka_reachable = Gauge(
            "citygate_gateway_kafka_reachable",
            "1 while the last request to Kafka succeeded",
            registry=r,
        )
        self.serial_reopens = Counter(
            "citygate_gateway_serial_reopens", "Serial ports reopened", ["port"], registry=r
        )
        self.serial_open = Gauge(
            "citygate_gateway_serial_open", "1 while the serial port is open", ["port"], registry=r
        )
        self.mqtt_connected = Gauge(
            "citygate_gateway_mqtt_connected", "1 while connected to the broker", registry=r
        )
        self.journal_depth_records = Gauge(
            "citygate_gateway_journal_depth_records",
            "Records not yet acknowledged by Kafka",
            registry=r,
        )
        self.journal_depth_bytes = Gauge(
            "citygate_gateway_journal_depth_bytes",
            "Bytes not yet acknowledged by Kafka",
            registry=r,
        )
        self.journal_oldest_age = Gauge(
            "citygate_gateway_journal_oldest_unsent_age_seconds",
            "Age of the oldest record not yet acknowledged by Kafka",
            registry=r,
        )
        self.journal_dropped = Gauge(
            "citygate_gateway_journal_dropped_records",
            "Records the full-journal policy dropped",
            ["sensor_type"],
            registry=r,
        )
        self.journal_torn = Gauge(
            "citygate_gateway_journal_torn_records",
            "Records of a torn tail (a write cut by a crash) cut off during journal recovery",
            registry=r,
        )
        self.journal_corrupt_records = Gauge(
            "citygate_gateway_journal_corrupt_records",
            "Durable records lost to damage inside the journal (recovery or a later read)",
            registry=r,
        )
        self.journal_corrupt_bytes = Gauge(
            "citygate_gateway_journal_corrupt_bytes",
            "Journal bytes that held no valid frame (damaged segments are kept in quarantine/)",
            registry=r,
        )
        self.journal_full = Gauge(
            "citygate_gateway_journal_full", "1 while the journal is full", registry=r
        )

    def totals(self) -> dict[str, float]:
        """Each counter summed over its labels, for the heartbeat and /healthz."""
        out: dict[str, float] = {}
        for family in self.registry.collect():
            if family.type != "counter":
                continue
            out[family.name] = sum(s.value for s in family.samples if s.name.endswith("_total"))
        return out
