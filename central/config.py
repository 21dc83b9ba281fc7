"""The central consumers' configuration schema: a YAML file, then CITYGATE_SECTION__KEY variables.

A wrong value fails at start with the key, the value and the expected form. Connection settings
left empty come from the stack connections (deploy.connections); the InfluxDB token is never
written in the YAML: it comes from CITYGATE_INFLUX__TOKEN, influx.token_file or the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from deploy import connections, settings
from deploy.connections import Connections
from deploy.settings import ConfigError, Settings
from deploy.settings import Section as _Section
from edge.topics import ALERTS, GATEWAY_STATUS, SENSOR_TYPES, reading_topic

GroupName = Literal["tsdb", "detect", "liveness"]
GROUPS: tuple[GroupName, ...] = ("tsdb", "detect", "liveness")
READING_TOPICS: tuple[str, ...] = tuple(reading_topic(t) for t in SENSOR_TYPES)

__all__ = ["CentralConfig", "ConfigError", "load", "parse"]


class Kafka(_Section):
    bootstrap: str = ""  # empty: from the stack connections (deploy/connections.py)
    session_timeout_ms: int = Field(10000, ge=1000)
    # A consumer that waits for InfluxDB keeps polling (paused), so this is not the outage limit.
    max_poll_interval_ms: int = Field(300000, ge=1000)
    fetch_max_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    request_timeout_ms: int = Field(30000, ge=1000)


class Influx(_Section):
    url: str = ""  # empty: from the stack connections
    org: str = ""
    bucket: str = ""
    token: SecretStr | None = None  # CITYGATE_INFLUX__TOKEN, never the YAML; unset: the stack's
    token_file: Path | None = None  # or a file holding it
    timeout_ms: int = Field(30000, ge=100)
    retry_min_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(10.0, gt=0)

    _token_file_readable = field_validator("token_file")(settings.readable_file)

    def token_value(self) -> str:
        return self.token.get_secret_value() if self.token is not None else ""


class Group(_Section):
    group_id: str
    topics: tuple[str, ...]
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_records: int = Field(10000, ge=1)  # records taken per poll, written as one batch
    poll_timeout_ms: int = Field(200, ge=1)


class Tsdb(Group):
    group_id: str = "tsdb"
    topics: tuple[str, ...] = READING_TOPICS
    max_records: int = Field(20000, ge=1)
    lines_per_request: int = Field(10000, ge=1)
    concurrent_requests: int = Field(2, ge=1, le=16)


class Detect(Group):
    group_id: str = "detect"
    topics: tuple[str, ...] = READING_TOPICS
    max_records: int = Field(5000, ge=1)
    alerts_topic: str = ALERTS
    silence_check_s: float = Field(5.0, gt=0)


class Liveness(Group):
    group_id: str = "liveness"
    topics: tuple[str, ...] = (GATEWAY_STATUS,)
    max_records: int = Field(1000, ge=1)
    alerts_topic: str = ALERTS
    missed_beats: float = Field(3.0, gt=1)  # offline after this many intervals without one
    default_interval_s: float = Field(5.0, gt=0)  # until two heartbeats show the real one
    check_s: float = Field(1.0, gt=0)
    # Heartbeats older than this when read (a replay of old history) raise no alert.
    forget_after_s: float = Field(3600.0, gt=0)


class HTTP(_Section):
    host: str = "127.0.0.1"
    port: int = Field(19200, ge=0, le=65535)


class Logging(_Section):
    json_lines: bool = False
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class CentralConfig(Settings):
    run: tuple[GroupName, ...] = GROUPS
    kafka: Kafka = Kafka()
    influx: Influx = Influx()
    tsdb: Tsdb = Tsdb()
    detect: Detect = Detect()
    liveness: Liveness = Liveness()
    http: HTTP = HTTP()
    logging: Logging = Logging()

    def resolved(self, conn: Connections | None = None) -> CentralConfig:
        """Fill unset connection settings from the stack connections."""
        conn = conn or connections.load()
        influx = self.influx.model_copy(
            update={
                "url": self.influx.url or conn.influx.url,
                "org": self.influx.org or conn.influx.org,
                "bucket": self.influx.bucket or conn.influx.bucket,
                "token": self.influx.token or conn.influx.token,
            }
        )
        kafka = self.kafka.model_copy(
            update={"bootstrap": self.kafka.bootstrap or conn.kafka.bootstrap}
        )
        return self.model_copy(update={"influx": influx, "kafka": kafka})

    def only(self, groups: tuple[GroupName, ...]) -> CentralConfig:
        return self.model_copy(update={"run": groups}) if groups else self


def parse(data: dict[str, Any], source: str = "<config>") -> CentralConfig:
    """Validate a mapping (no file, no environment), then fill it from the stack connections."""
    cfg: CentralConfig = settings.validate(CentralConfig, data, source)
    return cfg.resolved()


def load(path: Path, environ: Mapping[str, str] | None = None) -> CentralConfig:
    cfg = settings.load(CentralConfig, path, "central", environ=environ, shared=Connections)
    return cfg.resolved(connections.load(environ))
