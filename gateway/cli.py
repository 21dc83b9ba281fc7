"""`citygate gateway run | check`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from deploy import logs
from gateway import config as gateway_config
from gateway.config import GatewayConfig

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Gateway YAML configuration.",
)


def _load(path: Path) -> GatewayConfig:
    return gateway_config.load(path)


@click.group()
def gateway() -> None:
    """The edge gateway: MQTT and serial sensors into Kafka through a durable journal."""


@gateway.command()
@config_option
@click.option("--json-logs", is_flag=True, help="Log JSON lines instead of key=value.")
def run(config_path: Path, json_logs: bool) -> None:
    """Run the gateway until SIGTERM."""
    from gateway.daemon import run_forever

    logs.configure(json=json_logs)
    run_forever(_load(config_path))


@gateway.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the configuration and test connectivity to everything it names."""
    from deploy.probes import metadata_ok, mqtt_connack

    cfg = _load(config_path)
    problems = []
    click.echo(f"config: ok (gateway_id {cfg.gateway_id})")
    if (m := cfg.mqtt) is not None:
        ok = mqtt_connack(
            m.host,
            m.port,
            tls=m.tls is not None,
            ca_file=m.tls.ca_file if m.tls else None,
            username=m.username,
            password=m.login_password(),
        )
        how = f"{'TLS, ' if m.tls else ''}{'user ' + m.username if m.username else 'anonymous'}"
        click.echo(f"mqtt {m.host}:{m.port} ({how}): {'ok' if ok else 'unreachable or refused'}")
        problems += [] if ok else ["mqtt"]
    ok = asyncio.run(metadata_ok(cfg.kafka.bootstrap))
    click.echo(f"kafka {cfg.kafka.bootstrap}: {'ok' if ok else 'unreachable'}")
    problems += [] if ok else ["kafka"]
    for port in cfg.serial:
        ok = os.path.exists(port.port)
        click.echo(f"serial {port.port} ({port.codec}): {'present' if ok else 'missing'}")
        problems += [] if ok else [port.port]
    journal_dir = cfg.journal.path
    parent = journal_dir if journal_dir.exists() else journal_dir.parent
    while not parent.exists():
        parent = parent.parent
    ok = os.access(parent, os.W_OK)
    click.echo(f"journal {journal_dir}: {'writable' if ok else 'not writable'}")
    problems += [] if ok else ["journal"]
    if problems:
        raise click.ClickException(f"check failed: {', '.join(problems)}")
