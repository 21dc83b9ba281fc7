"""The central consumers' configuration schema: a YAML file, then CITYGATE_SECTION__KEY variables.

A wrong value fails at start with the key, the value and the expected form. Connection settings
left empty come from the stack connections (deploy.connections); the InfluxDB token is never
written in the YAML: it comes from CITYGATE_INFLUX__TOKEN, influx.token_file or the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from msgspec import Meta

from deploy import connections, settings
from deploy.connections import Connections
from deploy.settings import Check, ConfigError, Secret, Settings
from deploy.settings import Section as _Section
from edge.topics import ALERTS, GATEWAY_STATUS, SENSOR_TYPES, reading_topic

GroupName = Literal["tsdb", "detect", "liveness"]
GROUPS: tuple[GroupName, ...] = ("tsdb", "detect", "liveness")
READING_TOPICS: tuple[str, ...] = tuple(reading_topic(t) for t in SENSOR_TYPES)

__all__ = ["CentralConfig", "ConfigError", "load", "parse"]


class Kafka(_Section, frozen=True):
    bootstrap: str = ""  # empty: from the stack connections (deploy/connections.py)
    session_timeout_ms: Annotated[int, Meta(ge=1000)] = 10000
    # A consumer that waits for InfluxDB keeps polling (paused), so this is not the outage limit.
    max_poll_interval_ms: Annotated[int, Meta(ge=1000)] = 300000
    fetch_max_bytes: Annotated[int, Meta(ge=1024)] = 16 * 1024 * 1024
    request_timeout_ms: Annotated[int, Meta(ge=1000)] = 30000


class Influx(_Section, frozen=True):
    url: str = ""  # empty: from the stack connections
    org: str = ""
    bucket: str = ""
    token: Secret | None = None  # CITYGATE_INFLUX__TOKEN, never the YAML; unset: the stack's
    # or a file holding it
    token_file: Annotated[Path | None, Check(settings.readable_file)] = None
    timeout_ms: Annotated[int, Meta(ge=100)] = 30000
    retry_min_s: Annotated[float, Meta(gt=0)] = 0.5
    retry_max_s: Annotated[float, Meta(gt=0)] = 10.0

    def token_value(self) -> str:
        return self.token.get_secret_value() if self.token is not None else ""


class Group(_Section, kw_only=True, frozen=True):
    group_id: str
    topics: tuple[str, ...]
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_records: Annotated[int, Meta(ge=1)] = 10000  # records taken per poll, written as one batch
    poll_timeout_ms: Annotated[int, Meta(ge=1)] = 200


class Tsdb(Group, frozen=True):
    group_id: str = "tsdb"
    topics: tuple[str, ...] = READING_TOPICS
    max_records: Annotated[int, Meta(ge=1)] = 20000
    lines_per_request: Annotated[int, Meta(ge=1)] = 10000
    concurrent_requests: Annotated[int, Meta(ge=1, le=16)] = 2


class Detect(Group, frozen=True):
    group_id: str = "detect"
    topics: tuple[str, ...] = READING_TOPICS
    max_records: Annotated[int, Meta(ge=1)] = 5000
    alerts_topic: str = ALERTS
    silence_check_s: Annotated[float, Meta(gt=0)] = 5.0


class Liveness(Group, frozen=True):
    group_id: str = "liveness"
    topics: tuple[str, ...] = (GATEWAY_STATUS,)
    max_records: Annotated[int, Meta(ge=1)] = 1000
    alerts_topic: str = ALERTS
    # offline after this many intervals without one
    missed_beats: Annotated[float, Meta(gt=1)] = 3.0
    default_interval_s: Annotated[float, Meta(gt=0)] = 5.0  # until two heartbeats show the real one
    check_s: Annotated[float, Meta(gt=0)] = 1.0
    # Heartbeats older than this when read (a replay of old history) raise no alert.
    forget_after_s: Annotated[float, Meta(gt=0)] = 3600.0


class HTTP(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 19200


class Logging(_Section, frozen=True):
    json_lines: bool = False
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class CentralConfig(Settings, frozen=True):
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
        influx = self.influx.replace(
            url=self.influx.url or conn.influx.url,
            org=self.influx.org or conn.influx.org,
            bucket=self.influx.bucket or conn.influx.bucket,
            token=self.influx.token or conn.influx.token,
        )
        kafka = self.kafka.replace(bootstrap=self.kafka.bootstrap or conn.kafka.bootstrap)
        return self.replace(influx=influx, kafka=kafka)

    def only(self, groups: tuple[GroupName, ...]) -> CentralConfig:
        return self.replace(run=groups) if groups else self


def parse(data: dict[str, Any], source: str = "<config>") -> CentralConfig:
    """Validate a mapping (no file, no environment), then fill it from the stack connections."""
    cfg: CentralConfig = settings.validate(CentralConfig, data, source)
    return cfg.resolved()


def load(path: Path, environ: Mapping[str, str] | None = None) -> CentralConfig:
    cfg = settings.load(CentralConfig, path, "central", environ=environ, shared=Connections)
    return cfg.resolved(connections.load(environ))
