"""Ground-truth evaluation on the simulator: its pure step function, no MQTT, no Kafka.

Each scheduled fault of the scenario is repeated `episodes` times after a warm-up (detectors
learn a sensor's normal behaviour first), the readings the devices send are decoded with the
edge codecs as the gateway would, fed through one `Detector` tick by tick, and the raised alerts
are scored against the fault labels with central.evaluation.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from central.detect import Detector
from central.evaluation import FAULT_OF_ALERT, FaultLabel, FaultScore, evaluate_alerts
from edge import mqtt_json
from edge.codec import Rejected
from edge.messages import Alert
from edge.reading import Reading
from edge.serial_codecs import CODECS
from firmware_sim.scenario import parse_scenario
from firmware_sim.shipped import scenario_path
from firmware_sim.simulator import Simulator

# Faults of the transport rather than the measurement: the gateway and the (sensor, seq)
# de-duplication absorb them, so no detector alert is expected.
TRANSPORT_FAULTS = frozenset({"duplicate", "out_of_order", "malformed", "clock_skew"})
FIXED_START = "2024-05-13T04:00:00Z"  # a Monday morning: traffic rises through the run

_NS = 1_000_000_000


@dataclass(frozen=True)
class SimRun:
    readings: list[Reading]
    labels: list[FaultLabel]
    alerts: list[Alert]
    simulated_s: float
    devices: int


def repeated_scenario(
    raw: dict[str, Any], *, warmup_s: float, episodes: int, gap_s: float, tick_ms: int
) -> dict[str, Any]:
    """The scenario with a fixed start, and each scheduled fault repeated after a warm-up."""
    raw = copy.deepcopy(raw)
    raw["clock"] = {**raw.get("clock", {}), "start": FIXED_START, "tick_ms": tick_ms}
    faults = raw.get("faults") or []
    scheduled = [f for f in faults if not f.get("random")]
    longest = max(
        (_seconds(f["duration"]) + _seconds(f.get("start", 0)) for f in scheduled), default=0
    )
    period = longest + gap_s
    repeated = [f for f in faults if f.get("random")]
    for k in range(episodes):
        for f in scheduled:
            start = warmup_s + k * period + _seconds(f.get("start", 0))
            repeated.append({**f, "start": f"{start}s"})
    raw["faults"] = repeated
    return raw


def episodes_length_s(raw: dict[str, Any], warmup_s: float, episodes: int, gap_s: float) -> float:
    scheduled = [f for f in raw.get("faults") or [] if not f.get("random")]
    longest = max(
        (_seconds(f["duration"]) + _seconds(f.get("start", 0)) for f in scheduled), default=0
    )
    return warmup_s + episodes * (longest + gap_s)


def _seconds(value: Any) -> float:
    from firmware_sim.scenario import parse_duration

    parsed = parse_duration(value)
    return float(parsed)


def run(raw: dict[str, Any], duration_s: float, *, batch_ticks: int = 10) -> SimRun:
    """Step the simulator for `duration_s` of simulated time and detect on what it sends."""
    sim = Simulator(parse_scenario(raw))
    detector = Detector()
    ticks = round(duration_s * 1000 / sim.scenario.clock.tick_ms)
    readings: list[Reading] = []
    labels: list[FaultLabel] = []
    alerts: list[Alert] = []
    pending: list[Reading] = []
    serial_seq: dict[int, int] = {}
    for tick in range(ticks):
        batch = sim.step(tick)
        labels += [FaultLabel(w.sensor_id, w.fault, w.start_ns, w.end_ns) for w in batch.ended]
        pending.extend(_decode(sim, batch.mqtt, batch.serial, batch.t_ns, serial_seq))
        if tick % batch_ticks == batch_ticks - 1 or tick == ticks - 1:
            readings += pending
            alerts += detector.process_batch(pending)
            alerts += detector.check_silence(batch.t_ns)
            pending = []
    end_ns = sim.time_of(ticks)
    labels += [
        FaultLabel(w.sensor_id, w.fault, w.start_ns, min(w.end_ns, end_ns)) for w in sim.close()
    ]
    return SimRun(readings, labels, alerts, duration_s, len(sim.fleet))


def _decode(
    sim: Simulator,
    mqtt: list[tuple[str, bytes, int]],
    serial: list[tuple[int, bytes]],
    t_ns: int,
    serial_seq: dict[int, int],
) -> Iterator[Reading]:
    for topic, payload, _qos in mqtt:
        result = mqtt_json.decode(topic, payload, t_ns)
        if not isinstance(result, Rejected):
            yield result
    for dev, frame in serial:
        device = sim.fleet.devices[dev]
        codec = CODECS[device.transport.codec]
        serial_seq[dev] = seq = serial_seq.get(dev, 0) + 1
        result = codec.to_reading(
            frame, sensor_id=device.sensor_id, location=device.location, seq=seq, received_ts=t_ns
        )
        if not isinstance(result, Rejected):
            yield result


def score(result: SimRun, grace_s: float) -> dict[str, FaultScore]:
    return evaluate_alerts(
        result.readings,
        result.labels,
        result.alerts,
        fault_of_alert=FAULT_OF_ALERT,
        grace_ns=round(grace_s * _NS),
    )


def stamps_by_sensor(readings: list[Reading]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in readings:
        out.setdefault(r.sensor_id, []).append(r.ts)
    return out


def load_raw(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a scenario mapping")
    return data


def table(rows: dict[str, FaultScore]) -> list[str]:
    out = [
        "| fault | labels | detected | true alerts | false alerts | precision | recall | F1 "
        "| median delay (samples) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        delay = "-" if r.median_delay_samples is None else f"{r.median_delay_samples:g}"
        note = " (transport; no alert expected)" if name in TRANSPORT_FAULTS else ""
        out.append(
            f"| {name}{note} | {r.labels} | {r.detected} | {r.true_alerts} | {r.false_alerts} "
            f"| {r.precision:.2f} | {r.recall:.2f} | {r.f1:.2f} | {delay} |"
        )
    return out


@click.command("sim")
@click.option("--scenario", default="faults.yaml", show_default=True, help="Faulty scenario.")
@click.option(
    "--clean", default="clean.yaml", show_default=True, help="Fault-free scenario (FP rate)."
)
@click.option("--warmup", default=600.0, show_default=True, help="Simulated s before faults.")
@click.option("--episodes", default=5, show_default=True, help="Repetitions of each fault.")
@click.option("--gap", default=120.0, show_default=True, help="Simulated s between episodes.")
@click.option("--clean-hours", default=2.0, show_default=True, help="Simulated h of clean.")
@click.option("--tick-ms", default=1000, show_default=True, help="Simulator tick.")
@click.option(
    "--grace", default=5.0, show_default=True, help="s after a fault ends an alert still counts."
)
def evaluate_sim(
    scenario: str,
    clean: str,
    warmup: float,
    episodes: int,
    gap: float,
    clean_hours: float,
    tick_ms: int,
    grace: float,
) -> None:
    """Score the detectors against the simulator's ground truth (no MQTT, no Kafka)."""
    raw = load_raw(scenario_path(scenario))
    faulty = repeated_scenario(raw, warmup_s=warmup, episodes=episodes, gap_s=gap, tick_ms=tick_ms)
    length = episodes_length_s(raw, warmup, episodes, gap)
    started = time.perf_counter()
    result = run(faulty, length)
    click.echo(
        f"{scenario}: {result.devices} devices, {length:.0f} simulated s, "
        f"{len(result.readings):,} readings, {len(result.labels)} fault windows, "
        f"{sum(a.state == 'raised' for a in result.alerts)} alerts raised "
        f"({time.perf_counter() - started:.1f}s)"
    )
    click.echo("\n".join(table(score(result, grace))))

    clean_raw = load_raw(scenario_path(clean))
    clean_raw = repeated_scenario(clean_raw, warmup_s=0, episodes=0, gap_s=0, tick_ms=tick_ms)
    started = time.perf_counter()
    base = run(clean_raw, clean_hours * 3600)
    rows = score(base, grace)
    hours = sum(
        (max(ts) - min(ts)) / 3.6e12 for ts in stamps_by_sensor(base.readings).values() if ts
    )
    by_type: dict[str, int] = {}
    for a in base.alerts:
        if a.state == "raised":
            by_type[a.type.split(":", 1)[0]] = by_type.get(a.type.split(":", 1)[0], 0) + 1
    click.echo(
        f"{clean}: {base.devices} devices, {clean_hours:g} simulated h, {hours:,.0f} sensor-hours, "
        f"{len(base.readings):,} readings ({time.perf_counter() - started:.1f}s)"
    )
    click.echo(
        f"false alerts per 1,000 sensor-hours: {rows['all'].false_alerts_per_1000h:.2f} "
        f"({rows['all'].false_alerts} alerts: "
        + (", ".join(f"{k} {v}" for k, v in sorted(by_type.items())) or "none")
        + ")"
    )
