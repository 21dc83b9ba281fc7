"""The dashboard's configuration: one validated schema, from an optional YAML file plus environment.

The file holds a `dashboard:` section (or just its keys); CITYGATE_DASHBOARD__PORT and the like
override it. The token is what makes the dashboard writable (acknowledging alerts); without one
it is read-only. It comes from CITYGATE_DASHBOARD__TOKEN or dashboard.token_file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from central.dashboard import aqi
from deploy import settings
from deploy.settings import Section
from deploy.settings import Settings as _Root


class Settings(Section):
    host: str = "127.0.0.1"
    port: int = Field(19300, ge=1, le=65535)
    token: SecretStr | None = None  # unset or blank: read-only; never in the YAML
    token_file: Path | None = None  # a file holding the token
    aqi_standard: str = aqi.DEFAULT_STANDARD
    # Where sensors stand: a GeoJSON sites file (edge.sites); sensors it does not list are placed
    # inside their district.
    sites: Path | None = None
    silent_after_intervals: float = Field(3.0, gt=0)  # silent after this many missed reports
    silent_min_s: float = Field(30.0, ge=0)
    gateway_offline_after_s: float = Field(20.0, gt=0)  # heartbeats come every 5 s
    alerts_lookback: str = Field("24h", pattern=r"^\d+[smhd]$")
    cache_s: float = Field(3.0, ge=0)  # how long one InfluxDB answer serves every browser

    @field_validator("aqi_standard")
    @classmethod
    def _known_standard(cls, value: str) -> str:
        known = aqi.available()
        if value not in known:
            raise ValueError(f"expected one of {', '.join(known)}")
        return value

    _token_file_readable = field_validator("token_file")(settings.readable_file)

    @field_validator("token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def read_only(self) -> bool:
        return self.token is None


class DashboardConfig(_Root):
    """The dashboard's file: its own section, so its variables are CITYGATE_DASHBOARD__<KEY>."""

    dashboard: Settings = Settings()


def load(
    path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Settings from `path` (YAML), then the environment, then `overrides` (CLI options)."""
    cfg = settings.load(
        DashboardConfig,
        path,
        "dashboard",
        environ=environ,
        overrides={"dashboard": {k: v for k, v in overrides.items() if v is not None}},
        prepare=lambda data: data if "dashboard" in data else {"dashboard": data},
    )
    return cfg.dashboard
