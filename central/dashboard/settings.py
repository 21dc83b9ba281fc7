"""The dashboard's configuration: one validated schema, from an optional YAML file plus environment.

Environment overrides: CITYGATE_DASHBOARD_HOST, _PORT, _TOKEN, _AQI, _SITES. The token is
what makes the dashboard writable (acknowledging alerts); without one it is read-only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from central.dashboard import aqi
from central.dashboard.errors import SettingsError

ENV = {
    "host": "CITYGATE_DASHBOARD_HOST",
    "port": "CITYGATE_DASHBOARD_PORT",
    "token": "CITYGATE_DASHBOARD_TOKEN",
    "aqi_standard": "CITYGATE_DASHBOARD_AQI",
    "sites": "CITYGATE_DASHBOARD_SITES",
}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(19300, ge=1, le=65535)
    token: SecretStr | None = None  # None: read-only
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

    @field_validator("token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def read_only(self) -> bool:
        return self.token is None


def load(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `path` (YAML), then the environment, then `overrides` (CLI options)."""
    doc: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"{path}: cannot read the dashboard configuration: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SettingsError(
                f"{path}: expected a mapping of settings, got {type(loaded).__name__}"
            )
        doc.update(loaded.get("dashboard", loaded))
    for key, var in ENV.items():
        if var in os.environ:
            doc[key] = os.environ[var]
    doc.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={_shown(e)}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"dashboard configuration: {problems}") from exc


def _shown(error: Any) -> str:
    if error["loc"] and error["loc"][0] == "token":
        return "<hidden>"
    return repr(error.get("input"))
