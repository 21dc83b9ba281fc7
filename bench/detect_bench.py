"""Detection throughput on one core: readings/s across many sensors, written to bench/results/detect.json.

Two paths are measured: the vectorised univariate bank alone (one value per sensor per batch,
as a consumer updating many sensors from one Kafka poll), and the full `Detector` facade
(rules + univariate on every numeric field + alert tracking) over air-quality Readings, both
over all batches (the first creates every sensor's state) and over the batches after the first.

    .venv/bin/python bench/detect_bench.py [--sensors 1000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from central.detect import Detector
from central.univariate import UnivariateBank
from edge.catalog import load_catalog
from edge.reading import Location, Reading

_MIN = 60 * 1_000_000_000


def bench_bank(sensors: int, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    bank = UnivariateBank(sensors)
    slots = np.arange(sensors)
    values = rng.normal(50, 5, (rounds, sensors))
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(rounds):
        bank.update(slots, values[r], np.full(sensors, r * _MIN, dtype=np.int64))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = sensors * rounds
    return {
        "values": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "values_per_s": n / wall,
        "values_per_cpu_s": n / cpu,
    }


def bench_facade(sensors: int, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    det = Detector(load_catalog())
    batches = []
    for r in range(rounds):
        pm = rng.gamma(4.0, 4.0, sensors)
        batches.append(
            [
                Reading(
                    sensor_id=f"aq-{k}",
                    sensor_type="air_quality",
                    seq=r,
                    ts=r * _MIN + k,
                    fields={
                        "pm1": float(pm[k] * 0.5),
                        "pm25": float(pm[k]),
                        "pm10": float(pm[k] * 1.6),
                        "no2": float(20 + rng.normal()),
                        "temperature": float(15 + rng.normal()),
                        "relativeHumidity": 0.6,
                    },
                    location=Location(f"d{k % 20}"),
                )
                for k in range(sensors)
            ]
        )
    alerts = 0
    batch_cpu = []
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        start = time.process_time()
        alerts += len(det.process_batch(batch))
        batch_cpu.append(time.process_time() - start)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = sensors * rounds
    return {
        "readings": n,
        "fields_per_reading": 6,
        "wall_s": wall,
        "cpu_s": cpu,
        "readings_per_s": n / wall,
        # The machine is shared: CPU time is the steadier figure when others are busy.
        "readings_per_cpu_s": n / cpu,
        # The first batch also creates every sensor's state; a long-running consumer pays that
        # once, so the batches after it are the steady-state rate.
        "first_batch_cpu_s": batch_cpu[0],
        "readings_per_cpu_s_after_first_batch": sensors * (rounds - 1) / sum(batch_cpu[1:]),
        "alert_transitions": alerts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--facade-rounds", type=int, default=20)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "detect.json"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as in production
    result = {
        "load_average_at_start": os.getloadavg(),
        "sensors": args.sensors,
        "univariate_bank": bench_bank(args.sensors, args.rounds),
        "detector_facade": bench_facade(args.sensors, args.facade_rounds),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus_shared": os.cpu_count(),
    }
    result["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
