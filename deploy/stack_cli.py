"""`citygate stack`: the local servers on loopback (a `citygate.commands` entry point)."""

from __future__ import annotations

import subprocess
import sys

import click

from deploy.local import SERVICES, Stack


@click.group()
def stack() -> None:
    """The local stack on loopback: Mosquitto, Kafka (KRaft) and InfluxDB."""


services_arg = click.argument("services", nargs=-1, type=click.Choice(SERVICES))


@stack.command()
@services_arg
def up(services: tuple[str, ...]) -> None:
    """Start the services (all by default); idempotent."""
    Stack().up(services)


@stack.command()
@services_arg
@click.option("--purge", is_flag=True, help="Also delete the run directory (data and logs).")
def down(services: tuple[str, ...], purge: bool) -> None:
    """Stop the services it started (all by default)."""
    stopped = Stack().down(services, purge=purge)
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack.command()
def status() -> None:
    """Each service's health; exits 1 unless all are healthy."""
    report = Stack().status()
    for h in report:
        state = "healthy" if h.healthy else ("unhealthy" if h.running else "stopped")
        pid = f"pid {h.pid}" if h.pid else "-"
        click.echo(f"{h.service:<10} {state:<10} {pid:<10} {h.detail}")
    sys.exit(0 if all(h.healthy for h in report) else 1)


@stack.command()
@click.argument("service", type=click.Choice(SERVICES))
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", default=50, show_default=True)
def logs(service: str, follow: bool, lines: int) -> None:
    """Print a service's log."""
    log = Stack().process(service).log_file
    if service == "kafka":
        log = log.with_name("server.log")
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(log)]
    sys.exit(subprocess.call(cmd))
