"""`citygate dashboard`: serve the city-operations dashboard (a `citygate.commands` entry point)."""

from __future__ import annotations

from pathlib import Path

import click
import uvicorn

from central.dashboard import settings as settings_mod
from deploy import connections


@click.command(name="dashboard")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CITYGATE_DASHBOARD_CONFIG",
    help="YAML settings (host, port, token, aqi_standard, sites, ...).",
)
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 19300].")
@click.option(
    "--aqi", "aqi_standard", default=None, help="AQI standard: us_epa_2024 (default) or eaqi."
)
@click.option(
    "--sites",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="GeoJSON sites file (districts, sensor positions; `citygate sim sites` writes one).",
)
def dashboard(
    config_file: Path | None,
    host: str | None,
    port: int | None,
    aqi_standard: str | None,
    sites: Path | None,
) -> None:
    """Serve the city-operations dashboard (read-only unless CITYGATE_DASHBOARD__TOKEN is set)."""
    from central.dashboard.app import create_app

    cfg = settings_mod.load(
        config_file, host=host, port=port, aqi_standard=aqi_standard, sites=sites
    )
    app = create_app(cfg, connections.load())
    mode = "read-only" if cfg.read_only else "acknowledging with a token"
    click.echo(f"dashboard: http://{cfg.host}:{cfg.port}/ ({mode}, AQI {cfg.aqi_standard})")
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False)
