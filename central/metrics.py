"""The central consumers' Prometheus metrics, one registry per process (all groups share it)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CentralMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records_in = Counter(
            "citygate_central_records_consumed",
            "Kafka records taken by a consumer group",
            ["group", "topic"],
            registry=r,
        )
        self.records_skipped = Counter(
            "citygate_central_records_skipped",
            "Records that did not decode and were skipped (logged)",
            ["group", "topic"],
            registry=r,
        )
        self.points_written = Counter(
            "citygate_central_points_written",
            "Points InfluxDB acknowledged",
            ["group", "measurement"],
            registry=r,
        )
        self.points_rejected = Counter(
            "citygate_central_points_rejected",
            "Points in requests InfluxDB refused as invalid (4xx other than auth); not retried",
            ["group"],
            registry=r,
        )
        self.write_errors = Counter(
            "citygate_central_write_errors",
            "Failed writes to InfluxDB or Kafka (retried)",
            ["group", "target", "error"],
            registry=r,
        )
        self.alerts = Counter(
            "citygate_central_alerts",
            "Alert transitions published, by alert type (the part before ':')",
            ["type", "severity", "state"],
            registry=r,
        )
        self.commits = Counter("citygate_central_commits", "Offset commits", ["group"], registry=r)
        self.commit_failures = Counter(
            "citygate_central_commit_failures",
            "Commits refused because partitions moved (their records are redelivered)",
            ["group"],
            registry=r,
        )
        self.lag = Gauge(
            "citygate_central_consumer_lag",
            "Records between a partition's high watermark and the consumer's position",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.paused = Gauge(
            "citygate_central_paused",
            "1 while a group has paused consumption waiting for an output",
            ["group"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "citygate_central_batch_seconds",
            "Time to handle one polled batch (decode, detect, write)",
            ["group"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.gateways_offline = Gauge(
            "citygate_central_gateways_offline", "Gateways currently offline", registry=r
        )
        self.sensors_tracked = Gauge(
            "citygate_central_sensors_tracked",
            "Sensors the detect group keeps state for",
            registry=r,
        )
