"""Benchmark of the fleet simulator on one core, against the real local Mosquitto.

Measures (1) a sustained real-time run of N one-second devices (does the fleet keep its schedule,
and how much of a core does it use) and (2) load mode as fast as possible with QoS 0 and QoS 1.
Writes bench/results/sim.json with the machine (nproc, CPU model) and the date.

    .venv/bin/python bench/sim_bench.py [--devices 20000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from deploy.local import Stack
from firmware_sim.load import load_scenario_for, run_load
from firmware_sim.mqtt_publisher import MqttPublisher
from firmware_sim.runner import Runner
from firmware_sim.simulator import Simulator

RESULTS = Path(__file__).parent / "results" / "sim.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def sustained(host: str, port: int, devices: int, seconds: float, qos: int) -> dict[str, object]:
    """A real-time run: every device reports once a second for `seconds`."""
    sim = Simulator(load_scenario_for(devices, "mixed", qos, seed=1))
    publisher = MqttPublisher(host, port, f"sim-bench-{os.getpid()}")
    publisher.connect()
    try:
        summary = Runner(sim, publisher=publisher).run(seconds)
    finally:
        publisher.close()
    return {
        "devices": devices,
        "qos": qos,
        "seconds": round(summary.seconds, 2),
        "messages": summary.mqtt_messages,
        "delivered": summary.mqtt_completed,
        "msgs_per_s": round(summary.mqtt_messages / summary.seconds),
        "target_msgs_per_s": devices,
        "cpu_fraction_of_one_core": round(summary.cpu_seconds / summary.seconds, 3),
        "max_lag_s": round(summary.max_lag_s, 3),
        "kept_schedule": summary.max_lag_s < 1.0,
    }


def flat_out(host: str, port: int, qos: int, seconds: float) -> dict[str, object]:
    publisher = MqttPublisher(host, port, f"sim-bench-load-{os.getpid()}")
    publisher.connect()
    try:
        result = run_load(publisher, devices=20_000, rate=None, duration_s=seconds, qos=qos)
    finally:
        publisher.close()
    out = result.as_dict()
    out["rate"] = round(result.rate)
    out["cpu_us_per_message"] = round(result.cpu_us_per_message, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    conn = Stack().up(("mosquitto",))
    host, port = conn.mqtt.host, conn.mqtt.port
    started = time.time()
    report: dict[str, object] = {
        "benchmark": "firmware-sim",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "note": "2 cores shared with Mosquitto and other workloads; simulator single-threaded",
        },
        "sustained_qos0": sustained(host, port, args.devices, args.seconds, 0),
        "load_max_qos0": flat_out(host, port, 0, 10.0),
        "load_max_qos1": flat_out(host, port, 1, 10.0),
    }
    report["wall_seconds"] = round(time.time() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
