"""The gateway's configuration schema: a YAML file, then CITYGATE_SECTION__KEY variables.

A wrong value fails at start with the key, the value and the expected form. Secrets (the MQTT
password) come from CITYGATE_MQTT__PASSWORD or mqtt.password_file, never from the YAML itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta

from deploy import connections, settings
from deploy.connections import Connections
from deploy.settings import Check, Secret, Settings
from deploy.settings import Section as _Section
from edge import mqtt_json
from edge.serial_codecs import CodecName


class TLS(_Section, frozen=True):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


def _filters(topics: tuple[str, ...]) -> tuple[str, ...]:
    if not topics:
        raise ValueError("at least one topic filter, e.g. city/+/+/+/telemetry")
    for topic in topics:
        levels = topic.split("/")
        wild = [x for x in levels if ("#" in x or "+" in x) and x not in ("#", "+")]
        if not topic or wild or "#" in levels[:-1]:
            raise ValueError(
                f"{topic!r} is not an MQTT topic filter ('+' and '#' fill a whole level, "
                "'#' only the last)"
            )
    return topics


class MQTTSource(_Section, frozen=True):
    host: str = ""  # empty: from the stack connections (deploy/connections.py)
    port: Annotated[int, Meta(ge=0, le=65535)] = 0
    client_id: str = ""  # empty: "citygate-<gateway_id>"; fixed, so the broker keeps the session
    topics: Annotated[tuple[str, ...], Check(_filters)] = ("city/+/+/+/telemetry",)
    qos: Literal[0, 1] = 1
    receive_maximum: Annotated[int, Meta(ge=1, le=65535)] = 65535
    session_expiry_s: Annotated[int, Meta(ge=0)] = 7 * 24 * 3600
    keepalive_s: Annotated[int, Meta(ge=5)] = 30
    username: str | None = None
    password: Secret | None = None  # CITYGATE_MQTT__PASSWORD, never the YAML
    # or a file holding it
    password_file: Annotated[Path | None, Check(settings.readable_file)] = None
    tls: TLS | None = None
    # first wait after a lost connection, doubling
    reconnect_min_s: Annotated[float, Meta(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Meta(gt=0)] = 30.0  # ... up to this
    # Larger payloads become dead letters (reason "oversize"); the codec's own limit is the cap.
    max_payload_bytes: Annotated[int, Meta(ge=1, le=mqtt_json.MAX_PAYLOAD)] = mqtt_json.MAX_PAYLOAD
    # Readings per batch into the journal, two batches on their way at once (one waits for its
    # fsync while the next is decoded): bounds the gateway's memory when a backlog arrives
    # faster than it is written. Most of the memory a drain adds is these batches: quick
    # one-core drains (200,000 readings, 2026-12-08) measured a peak RSS of 50-50.4 MB at 500
    # and 54.8-58 at 1000, at 73,000-76,000 and 87,000-89,000 readings/s.
    max_batch: Annotated[int, Meta(ge=1)] = 500
    # ... and payload bytes per group
    max_batch_bytes: Annotated[int, Meta(ge=1024)] = 1024 * 1024
    # The intake queue holds at most two batches: beyond that the socket is not read, and the
    # broker keeps the backlog.
    # A device timestamp later than its receipt plus max_clock_ahead_s, or earlier than its
    # receipt minus max_clock_behind_s, is dead-lettered as bad_timestamp; null: no bound.
    max_clock_ahead_s: Annotated[float, Meta(gt=0)] | None = 300.0
    max_clock_behind_s: Annotated[float, Meta(gt=0)] | None = 7 * 86400.0
    # How long the first message after a quiet spell waits for others to share its journal
    # commit; its PUBACK is that much later. 0: every burst is committed as it arrives.
    linger_ms: Annotated[float, Meta(ge=0, le=1000)] = 50.0
    linger_records: Annotated[int, Meta(ge=1)] = 100  # ... or until this many readings are queued

    def __post_init__(self) -> None:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")

    def login_password(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None


class SerialPort(_Section, frozen=True):
    port: str  # a stable path, e.g. /dev/serial/by-id/...
    codec: CodecName  # a serial codec of a sensor family (edge/families/)
    sensor_id: str
    district: str
    latitude: float | None = None
    longitude: float | None = None
    baud: Annotated[int, Meta(gt=0)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    # first wait after the port vanished, doubling
    reopen_min_s: Annotated[float, Meta(gt=0)] = 0.2
    reopen_max_s: Annotated[float, Meta(gt=0)] = 10.0  # ... up to this

    def __post_init__(self) -> None:
        if self.reopen_max_s < self.reopen_min_s:
            raise ValueError("reopen_max_s must be at least reopen_min_s")


class Journal(_Section, frozen=True):
    path: Path = Path("run/gateway/journal")
    max_bytes: Annotated[int, Meta(ge=1024 * 1024)] = 512 * 1024 * 1024
    policy: Literal["block", "drop_oldest"] = "block"
    drop_sensor_type: str | None = None
    commit_interval_ms: Annotated[float, Meta(gt=0)] = 5.0
    commit_records: Annotated[int, Meta(ge=1)] = 1000
    # Records are kept in memory from their append until Kafka acknowledges them, up to this
    # many bytes, so the sink reads the disk only for a backlog larger than this (or after a
    # restart). Part of the gateway's memory bound.
    memory_bytes: Annotated[int, Meta(ge=0)] = 8 * 1024 * 1024
    # Segment files roll at this size. Recovery and compaction hold one segment in memory at a
    # time, so it is part of the memory bound too.
    segment_bytes: Annotated[int, Meta(ge=64 * 1024)] = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.policy == "drop_oldest" and not self.drop_sensor_type:
            raise ValueError("policy drop_oldest needs drop_sensor_type (e.g. air_quality)")


class Kafka(_Section, frozen=True):
    bootstrap: str = ""  # empty: from the stack connections (deploy/connections.py)
    compression: Literal["lz4", "zstd", "gzip", "none"] = "lz4"  # lz4: its fast compressor
    # For single sends (gateway status): the journal's record batches go out whole, never linger.
    linger_ms: Annotated[int, Meta(ge=0)] = 5
    max_batch_bytes: Annotated[int, Meta(ge=1024)] = 512 * 1024
    # What the sink hands Kafka at once and waits on: records and their bytes (a memory bound).
    max_inflight_records: Annotated[int, Meta(ge=1)] = 20000
    max_inflight_bytes: Annotated[int, Meta(ge=64 * 1024)] = 8 * 1024 * 1024
    request_timeout_ms: Annotated[int, Meta(ge=1000)] = 15000
    # first wait after Kafka became unreachable, doubling
    backoff_min_s: Annotated[float, Meta(gt=0)] = 0.5
    backoff_max_s: Annotated[float, Meta(gt=0)] = 30.0  # ... with jitter, up to this
    # /healthz says degraded once the oldest record Kafka has not acknowledged is older.
    max_unsent_age_s: Annotated[float, Meta(gt=0)] = 60.0

    def __post_init__(self) -> None:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must be at least backoff_min_s")


class HTTP(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 19180


class GatewayConfig(Settings, frozen=True):
    gateway_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    mqtt: MQTTSource | None = MQTTSource()
    serial: tuple[SerialPort, ...] = ()
    journal: Journal = Journal()
    kafka: Kafka = Kafka()
    http: HTTP = HTTP()
    heartbeat_s: Annotated[float, Meta(gt=0)] = 5.0

    def resolved(self, conn: Connections | None = None) -> GatewayConfig:
        """Fill unset connection settings from the stack connections."""
        conn = conn or connections.load()
        mqtt = self.mqtt
        if mqtt is not None:
            mqtt = mqtt.replace(
                host=mqtt.host or conn.mqtt.host,
                port=mqtt.port or conn.mqtt.port,
                client_id=mqtt.client_id or f"citygate-{self.gateway_id}",
            )
        kafka = self.kafka.replace(bootstrap=self.kafka.bootstrap or conn.kafka.bootstrap)
        return self.replace(mqtt=mqtt, kafka=kafka)


def load(path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    cfg = settings.load(GatewayConfig, path, "gateway", environ=environ, shared=Connections)
    return cfg.resolved(connections.load(environ))
