"""The dashboard's configuration: one validated schema, from an optional YAML file plus environment.

The file holds a `dashboard:` section (or just its keys); CITYGATE_DASHBOARD__PORT and the like
override it. The token is what makes the dashboard writable (acknowledging alerts); without one
it is read-only. It comes from CITYGATE_DASHBOARD__TOKEN or dashboard.token_file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta

from central.dashboard import aqi
from deploy import settings
from deploy.settings import Before, Check, Secret, Section
from deploy.settings import Settings as _Root


def _known_standard(value: str) -> str:
    known = aqi.available()
    if value not in known:
        raise ValueError(f"expected one of {', '.join(known)}")
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class Settings(Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 19300
    # unset or blank: read-only; never in the YAML
    token: Annotated[Secret | None, Before(_blank_is_none)] = None
    # a file holding the token
    token_file: Annotated[Path | None, Check(settings.readable_file)] = None
    aqi_standard: Annotated[str, Check(_known_standard)] = aqi.DEFAULT_STANDARD
    # Where sensors stand: a GeoJSON sites file (edge.sites); sensors it does not list are placed
    # inside their district.
    sites: Path | None = None
    # silent after this many missed reports
    silent_after_intervals: Annotated[float, Meta(gt=0)] = 3.0
    silent_min_s: Annotated[float, Meta(ge=0)] = 30.0
    gateway_offline_after_s: Annotated[float, Meta(gt=0)] = 20.0  # heartbeats come every 5 s
    alerts_lookback: Annotated[str, Meta(pattern=r"^\d+[smhd]$")] = "24h"
    cache_s: Annotated[float, Meta(ge=0)] = 3.0  # how long one InfluxDB answer serves every browser

    @property
    def read_only(self) -> bool:
        return self.token is None


class DashboardConfig(_Root, frozen=True):
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
