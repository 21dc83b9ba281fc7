"""`citygate sim`: run a scenario, generate load, or replay a CSV series as a device."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from deploy import connections
from edge.reading import Location
from edge.topics import SENSOR_TYPES
from firmware_sim.labels import LabelWriter
from firmware_sim.load import run_load
from firmware_sim.mqtt_publisher import MqttPublisher
from firmware_sim.progress import Progress
from firmware_sim.pty_ports import PtyBank
from firmware_sim.replay import field_for, read_series, replay
from firmware_sim.runner import Runner
from firmware_sim.scenario import SerialTransport, load_scenario
from firmware_sim.shipped import scenario_path
from firmware_sim.simulator import Simulator
from firmware_sim.sites import scenario_sites


def _publisher(host: str | None, port: int | None, client_id: str) -> MqttPublisher:
    conn = connections.load()
    publisher = MqttPublisher(host or conn.mqtt.host, port or conn.mqtt.port, client_id)
    publisher.connect()
    return publisher


host_option = click.option("--host", help="MQTT broker host [default: the local stack's].")
port_option = click.option(
    "--port", type=int, help="MQTT broker port [default: the local stack's]."
)


@click.group()
def sim() -> None:
    """The fleet simulator: virtual devices over MQTT and pty serial lines, with labelled faults."""


@sim.command()
@click.option("--scenario", "scenario_name", required=True, help="Scenario file or shipped name.")
@click.option("--duration", type=float, help="Seconds to run [default: until Ctrl-C].")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path), help="Labels file.")
@click.option("--seed", type=int, help="Override the scenario's seed.")
@click.option("--tty-dir", type=click.Path(path_type=Path), help="Where the pty symlinks go.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@host_option
@port_option
def run(
    scenario_name: str,
    duration: float | None,
    labels_path: Path | None,
    seed: int | None,
    tty_dir: Path | None,
    quiet: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Play the fleet of a scenario in real time."""
    scenario = load_scenario(scenario_path(scenario_name), seed=seed)
    simulator = Simulator(scenario)
    run_dir = connections.run_dir()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    labels_path = labels_path or run_dir / "sim" / f"{scenario.name}-{stamp}.labels.jsonl"
    serial = {
        d.index: d.sensor_id
        for d in simulator.fleet.devices
        if isinstance(d.transport, SerialTransport)
    }
    publisher = None
    if len(serial) < len(simulator.fleet):
        publisher = _publisher(host, port, f"citygate-sim-{scenario.name}-{os.getpid()}")
    ptys = None
    if serial:
        ptys = PtyBank(tty_dir or run_dir / "sim-tty")
        ptys.open(serial)
        for index in serial:
            click.echo(f"serial {serial[index]}: {ptys.ports[index].link}", err=True)
    labels = LabelWriter(labels_path)
    click.echo(
        f"sim: scenario {scenario.name!r} seed {scenario.seed}: {len(simulator.fleet):,} "
        f"devices, {simulator.fleet.messages_per_second(scenario.clock.tick_ms):,.0f} "
        f"readings/s; labels -> {labels_path}",
        err=True,
    )
    try:
        Runner(
            simulator,
            publisher=publisher,
            ptys=ptys,
            labels=labels,
            progress=Progress(len(simulator.fleet), enabled=not quiet),
        ).run(duration)
    finally:
        labels.close()
        if ptys:
            ptys.close()
        if publisher:
            publisher.close()


@sim.command()
@click.option("--rate", default="max", show_default=True, help="Messages per second, or 'max'.")
@click.option("--devices", default=20_000, show_default=True, help="Devices, each reporting 1/s.")
@click.option("--duration", default=10.0, show_default=True, help="Seconds.")
@click.option("--qos", type=click.Choice(["0", "1"]), default="1", show_default=True)
@click.option(
    "--sensor-type",
    type=click.Choice(["mixed", *SENSOR_TYPES]),
    default="mixed",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@host_option
@port_option
def load(
    rate: str,
    devices: int,
    duration: float,
    qos: str,
    sensor_type: str,
    as_json: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Publish at a fixed rate, or as fast as possible, and report the rate reached."""
    try:
        target = None if rate == "max" else float(rate)
    except ValueError as exc:
        raise click.BadParameter(
            f"expected a number or 'max', got {rate!r}", param_hint="--rate"
        ) from exc
    publisher = _publisher(host, port, f"citygate-sim-load-{os.getpid()}")
    try:
        result = run_load(
            publisher,
            devices=devices,
            rate=target,
            duration_s=duration,
            qos=int(qos),
            sensor_type=sensor_type,
            progress=Progress(devices, enabled=not as_json),
        )
    finally:
        publisher.close()
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(result.line(), err=True)


@sim.command(name="sites")
@click.option("--scenario", "scenario_name", required=True, help="Scenario file or shipped name.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the GeoJSON sites file (the dashboard's --sites).",
)
def sites(scenario_name: str, out_path: Path) -> None:
    """Write the scenario's districts and device positions as a GeoJSON sites file."""
    doc = scenario_sites(load_scenario(scenario_path(scenario_name)))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out_path)
    sensors = sum(f["properties"]["kind"] == "sensor" for f in doc["features"])
    click.echo(f"sites: {sensors} sensors written to {out_path}", err=True)


@sim.command(name="replay")
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--sensor-id", required=True)
@click.option(
    "--field", help="Catalog field the values feed [default: guessed from the file name]."
)
@click.option(
    "--sensor-type",
    type=click.Choice(SENSOR_TYPES),
    help="The device's type [default: read off the file name, as its field is].",
)
@click.option("--district", default="replay", show_default=True)
@click.option("--speed", default=60.0, show_default=True, help="Playback speed-up factor.")
@click.option("--limit", type=int, help="Stop after this many rows.")
@click.option("--qos", type=click.Choice(["0", "1"]), default="1", show_default=True)
@click.option("--keep-timestamps", is_flag=True, help="Send the CSV's times, not the time now.")
@host_option
@port_option
def replay_command(
    csv_path: Path,
    sensor_id: str,
    field: str | None,
    sensor_type: str | None,
    district: str,
    speed: float,
    limit: int | None,
    qos: str,
    keep_timestamps: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Play a CSV time series (timestamp,value) as one device."""
    points = read_series(csv_path)
    sensor_type, name, scale = field_for(csv_path, field, sensor_type)
    publisher = _publisher(host, port, f"citygate-sim-replay-{os.getpid()}")
    try:
        sent = replay(
            publisher,
            points,
            sensor_id=sensor_id,
            sensor_type=sensor_type,
            field=name,
            scale=scale,
            location=Location(district),
            speed=speed,
            qos=int(qos),
            keep_timestamps=keep_timestamps,
            limit=limit,
        )
    finally:
        publisher.close()
    click.echo(f"replay: {sent} readings of {name} from {csv_path.name} as {sensor_id}", err=True)
