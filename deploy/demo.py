"""`citygate demo`: the whole system with its default configuration on the local stack.

Runs each component as its own process (as it would run in production), prefixes their output
with the component's name, and stops them all on Ctrl-C, SIGTERM or after --duration.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import click

from deploy.local import Stack, StackError


def _citygate() -> str:
    return str(Path(sys.executable).with_name("citygate"))


def components() -> list[tuple[str, list[str]]]:
    """The processes of the demo; a component joins once its package exists."""
    cg = _citygate()
    config = resources.files("deploy") / "config"
    procs = [("gateway", [cg, "gateway", "run", "--config", str(config / "gateway.yaml")])]
    if importlib.util.find_spec("central.service") is not None:
        procs.append(("central", [cg, "central", "run", "--config", str(config / "central.yaml")]))
    if importlib.util.find_spec("firmware_sim.cli") is not None:
        scenario = resources.files("firmware_sim") / "scenarios" / "city.yaml"
        procs.append(("sim", [cg, "sim", "run", "--scenario", str(scenario)]))
        if importlib.util.find_spec("central.dashboard.cli") is not None:
            procs.append(("dashboard", [cg, "dashboard", "--scenario", str(scenario)]))
    return procs


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
    try:
        Stack().up()
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    for name, argv in components():
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
        running.append((name, proc))
        click.echo(f"demo: started {name} (pid {proc.pid})")
    click.echo("demo: gateway health at http://127.0.0.1:19180/healthz, metrics at /metrics")
    if any(name == "dashboard" for name, _ in running):
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
