"""The central consumers' one configuration schema: a YAML file, then CITYGATE__SECTION__KEY overrides.

A wrong value fails at start with the key, the value and the expected form. Connection settings
left empty come from the local stack or CITYGATE_* variables (deploy.connections); the InfluxDB
token is never written in the YAML: it comes from the stack, the environment or a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deploy import connections, settings
from deploy.settings import ConfigError
from edge.topics import ALERTS, GATEWAY_STATUS, SENSOR_TYPES, reading_topic

GroupName = Literal["tsdb", "detect", "liveness"]
GROUPS: tuple[GroupName, ...] = ("tsdb", "detect", "liveness")
READING_TOPICS: tuple[str, ...] = tuple(reading_topic(t) for t in SENSOR_TYPES)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Kafka(_Section):
    bootstrap: str = ""  # empty: from the local stack / CITYGATE_KAFKA_BOOTSTRAP
    session_timeout_ms: int = Field(10000, ge=1000)
    # A consumer that waits for InfluxDB keeps polling (paused), so this is not the outage limit.
    max_poll_interval_ms: int = Field(300000, ge=1000)
    fetch_max_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    request_timeout_ms: int = Field(30000, ge=1000)


class Influx(_Section):
    url: str = ""  # empty: from the local stack / CITYGATE_INFLUX_URL
    org: str = ""
    bucket: str = ""
    token_env: str | None = None  # name of a variable holding the token
    token_file: Path | None = None
    timeout_ms: int = Field(30000, ge=100)
    retry_min_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(10.0, gt=0)
    token: str = Field("", repr=False)  # filled by resolved(); never set it in the YAML

    def resolved_token(self, fallback: str) -> str:
        if self.token_env:
            return os.environ.get(self.token_env, "")
        if self.token_file:
            return self.token_file.read_text().strip()
        return self.token or fallback


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


class CentralConfig(_Section):
    run: tuple[GroupName, ...] = GROUPS
    kafka: Kafka = Kafka()
    influx: Influx = Influx()
    tsdb: Tsdb = Tsdb()
    detect: Detect = Detect()
    liveness: Liveness = Liveness()
    http: HTTP = HTTP()
    logging: Logging = Logging()

    def resolved(self) -> CentralConfig:
        """Fill unset connection settings from the local stack or CITYGATE_* variables."""
        conn = connections.load()
        influx = self.influx.model_copy(
            update={
                "url": self.influx.url or conn.influx_url,
                "org": self.influx.org or conn.influx_org,
                "bucket": self.influx.bucket or conn.influx_bucket,
                "token": self.influx.resolved_token(conn.influx_token),
            }
        )
        kafka = self.kafka.model_copy(
            update={"bootstrap": self.kafka.bootstrap or conn.kafka_bootstrap}
        )
        return self.model_copy(update={"influx": influx, "kafka": kafka})

    def only(self, groups: tuple[GroupName, ...]) -> CentralConfig:
        return self.model_copy(update={"run": groups}) if groups else self


def parse(data: dict[str, Any], source: str = "<config>") -> CentralConfig:
    return settings.validate(CentralConfig, data, source).resolved()


def _no_token_in_file(data: dict[str, Any]) -> None:
    if "token" in (data.get("influx") or {}):
        raise ConfigError(
            "influx.token must not be written in the file; "
            "use influx.token_env, influx.token_file or CITYGATE_INFLUX_TOKEN"
        )


def load(path: Path, environ: dict[str, str] | None = None) -> CentralConfig:
    return settings.load(path, CentralConfig, "central", environ, _no_token_in_file).resolved()
