"""`citygate demo`: the whole system with its default configuration on the local stack.

Runs each component as its own process (as it would run in production), prefixes their output
with the component's name, and stops them all on Ctrl-C, SIGTERM or after --duration.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import click

from deploy import connections
from deploy.local import Stack
from firmware_sim.scenario import load_scenario
from firmware_sim.sites import scenario_sites


def _citygate() -> str:
    return str(Path(sys.executable).with_name("citygate"))


def components(sites: Path) -> list[tuple[str, list[str]]]:
    """The processes of the demo, each started as its own `citygate` command."""
    cg = _citygate()
    config = resources.files("deploy") / "config"
    scenario = resources.files("firmware_sim") / "scenarios" / "city.yaml"
    return [
        ("gateway", [cg, "gateway", "run", "--config", str(config / "gateway.yaml")]),
        ("central", [cg, "central", "run", "--config", str(config / "central.yaml")]),
        ("sim", [cg, "sim", "run", "--scenario", str(scenario)]),
        ("dashboard", [cg, "dashboard", "--sites", str(sites)]),
    ]


def write_sites(path: Path) -> Path:
    """The city scenario's sites file, for the dashboard's map."""
    scenario = Path(str(resources.files("firmware_sim") / "scenarios" / "city.yaml"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scenario_sites(load_scenario(scenario))) + "\n")
    return path


def _pump(name: str, stream: object) -> None:
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
        sys.stdout.flush()


@click.command()
@click.option(
    "--duration", type=float, default=0, help="Stop after this many seconds (0: run until Ctrl-C)."
)
def demo(duration: float) -> None:
    """Bring the local stack up and run gateway, central consumers and simulator."""
    Stack().up()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    sites = write_sites(connections.run_dir() / "demo" / "sites.geojson")
    for name, argv in components(sites):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
        running.append((name, proc))
        click.echo(f"demo: started {name} (pid {proc.pid})")
    click.echo("demo: gateway health at http://127.0.0.1:19180/healthz, metrics at /metrics")
    click.echo("demo: dashboard at http://127.0.0.1:19300/")
    click.echo("demo: press Ctrl-C to stop")
    deadline = time.monotonic() + duration if duration else None
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        if any(p.poll() is not None for name, p in running if name != "sim"):
            break
        stop.wait(0.5)
    for _name, proc in reversed(running):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in running:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        click.echo(f"demo: {name} exited with {proc.returncode}")
