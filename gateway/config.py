"""The gateway's configuration schema: a YAML file, then CITYGATE_SECTION__KEY variables.

A wrong value fails at start with the key, the value and the expected form. Secrets (the MQTT
password) come from CITYGATE_MQTT__PASSWORD or mqtt.password_file, never from the YAML itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from deploy import connections, settings
from deploy.connections import Connections
from deploy.settings import Section as _Section
from deploy.settings import Settings
from edge import mqtt_json
from edge.serial_codecs import CodecName


class TLS(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


class MQTTSource(_Section):
    host: str = ""  # empty: from the stack connections (deploy/connections.py)
    port: int = Field(0, ge=0, le=65535)
    client_id: str = ""  # empty: "citygate-<gateway_id>"; fixed, so the broker keeps the session
    topics: tuple[str, ...] = ("city/+/+/+/telemetry",)
    qos: Literal[0, 1] = 1
    receive_maximum: int = Field(65535, ge=1, le=65535)
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0)
    keepalive_s: int = Field(30, ge=5)
    username: str | None = None
    password: SecretStr | None = None  # CITYGATE_MQTT__PASSWORD, never the YAML
    password_file: Path | None = None  # or a file holding it
    tls: TLS | None = None
    reconnect_min_s: float = Field(0.5, gt=0)  # first wait after a lost connection, doubling
    reconnect_max_s: float = Field(30.0, gt=0)  # ... up to this
    # Larger payloads become dead letters (reason "oversize"); the codec's own limit is the cap.
    max_payload_bytes: int = Field(mqtt_json.MAX_PAYLOAD, ge=1, le=mqtt_json.MAX_PAYLOAD)
    # Readings handed to the journal per group commit: bounds the gateway's memory when a
    # backlog arrives faster than it is written. Most of the memory a drain adds is the batches
    # in the pipeline: peak RSS of a one-core drain measured 68 MB at 2000, 61-64 at 1000, 56
    # at 500, which halved the drain rate (README, Measured).
    max_batch: int = Field(1000, ge=1)
    max_batch_bytes: int = Field(1024 * 1024, ge=1024)  # ... and payload bytes per group
    # The intake queue holds at most two batches: beyond that the socket is not read, and the
    # broker keeps the backlog.
    # A device timestamp later than its receipt plus max_clock_ahead_s, or earlier than its
    # receipt minus max_clock_behind_s, is dead-lettered as bad_timestamp; null: no bound.
    max_clock_ahead_s: float | None = Field(300.0, gt=0)
    max_clock_behind_s: float | None = Field(7 * 86400.0, gt=0)
    # How long the first message after a quiet spell waits for others to share its journal
    # commit; its PUBACK is that much later. 0: every burst is committed as it arrives.
    linger_ms: float = Field(50.0, ge=0, le=1000)
    linger_records: int = Field(100, ge=1)  # ... or until this many readings are queued

    @field_validator("topics")
    @classmethod
    def _filters(cls, topics: tuple[str, ...]) -> tuple[str, ...]:
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

    _password_file_readable = field_validator("password_file")(settings.readable_file)

    @model_validator(mode="after")
    def _reconnect_order(self) -> MQTTSource:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    def login_password(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None


class SerialPort(_Section):
    port: str  # a stable path, e.g. /dev/serial/by-id/...
    codec: CodecName  # a serial codec of a sensor family (edge/families/)
    sensor_id: str
    district: str
    latitude: float | None = None
    longitude: float | None = None
    baud: int = Field(9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    reopen_min_s: float = Field(0.2, gt=0)  # first wait after the port vanished, doubling
    reopen_max_s: float = Field(10.0, gt=0)  # ... up to this

    @model_validator(mode="after")
    def _reopen_order(self) -> SerialPort:
        if self.reopen_max_s < self.reopen_min_s:
            raise ValueError("reopen_max_s must be at least reopen_min_s")
        return self


class Journal(_Section):
    path: Path = Path("run/gateway/journal")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024)
    policy: Literal["block", "drop_oldest"] = "block"
    drop_sensor_type: str | None = None
    commit_interval_ms: float = Field(5.0, gt=0)
    commit_records: int = Field(1000, ge=1)
    # Records are kept in memory from their append until Kafka acknowledges them, up to this
    # many bytes, so the sink reads the disk only for a backlog larger than this (or after a
    # restart). Part of the gateway's memory bound.
    memory_bytes: int = Field(8 * 1024 * 1024, ge=0)
    # Segment files roll at this size. Recovery and compaction hold one segment in memory at a
    # time, so it is part of the memory bound too.
    segment_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024)

    @model_validator(mode="after")
    def _drop_type_needed(self) -> Journal:
        if self.policy == "drop_oldest" and not self.drop_sensor_type:
            raise ValueError("policy drop_oldest needs drop_sensor_type (e.g. air_quality)")
        return self


class Kafka(_Section):
    bootstrap: str = ""  # empty: from the stack connections (deploy/connections.py)
    compression: Literal["lz4", "zstd", "gzip", "none"] = "lz4"  # lz4: its fast compressor
    # For single sends (gateway status): the journal's record batches go out whole, never linger.
    linger_ms: int = Field(5, ge=0)
    max_batch_bytes: int = Field(512 * 1024, ge=1024)
    # What the sink hands Kafka at once and waits on: records and their bytes (a memory bound).
    max_inflight_records: int = Field(20000, ge=1)
    max_inflight_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024)
    request_timeout_ms: int = Field(15000, ge=1000)
    backoff_min_s: float = Field(0.5, gt=0)  # first wait after Kafka became unreachable, doubling
    backoff_max_s: float = Field(30.0, gt=0)  # ... with jitter, up to this
    # /healthz says degraded once the oldest record Kafka has not acknowledged is older.
    max_unsent_age_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> Kafka:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must be at least backoff_min_s")
        return self


class HTTP(_Section):
    host: str = "127.0.0.1"
    port: int = Field(19180, ge=0, le=65535)


class GatewayConfig(Settings):
    gateway_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    mqtt: MQTTSource | None = MQTTSource()
    serial: tuple[SerialPort, ...] = ()
    journal: Journal = Journal()
    kafka: Kafka = Kafka()
    http: HTTP = HTTP()
    heartbeat_s: float = Field(5.0, gt=0)

    def resolved(self, conn: Connections | None = None) -> GatewayConfig:
        """Fill unset connection settings from the stack connections."""
        conn = conn or connections.load()
        mqtt = self.mqtt
        if mqtt is not None:
            mqtt = mqtt.model_copy(
                update={
                    "host": mqtt.host or conn.mqtt.host,
                    "port": mqtt.port or conn.mqtt.port,
                    "client_id": mqtt.client_id or f"citygate-{self.gateway_id}",
                }
            )
        kafka = self.kafka.model_copy(
            update={"bootstrap": self.kafka.bootstrap or conn.kafka.bootstrap}
        )
        return self.model_copy(update={"mqtt": mqtt, "kafka": kafka})


def load(path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    cfg = settings.load(GatewayConfig, path, "gateway", environ=environ, shared=Connections)
    return cfg.resolved(connections.load(environ))
