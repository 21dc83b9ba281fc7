"""The gateway benchmark's arithmetic (bench/gateway_report.py) and its reading of Kafka's
ProducerPerformance output (bench/gateway_peers.py): pure logic, no servers."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gateway_peers
import gateway_report

CHECK = {"records": 9, "unique": 9, "duplicates": 0, "order_violations": 0, "sensors": 3}


def bridge(rate: float, cpu: float, lost: int = 0, order: int = 0) -> dict[str, Any]:
    check = {**CHECK, "order_violations": order}
    return {
        "drain": {"readings_per_s": rate, "cpu_us_per_reading": cpu, "lost": lost, "kafka_check": check},
        "live": {"readings_per_s": rate / 2, "lost": 0, "kafka_check": CHECK},
        "latency_10000": {"target_rate": 10000, "skipped": "drain rate below this rate"},
        "peak_rss_mb": 50.0,
    }  # fmt: skip


def repetition(gateway_rate: float) -> dict[str, Any]:
    return {
        "limits": {
            "kafka_producer_perf": {
                "records": 9,
                "record_bytes_mean": 266,
                "readings_per_s": 300_000,
                "cpu_us_per_reading": 4.0,
                "peak_rss_mb": 300.0,
            },
            "mosquitto_sub": {
                "readings": 9,
                "readings_per_s": 100_000,
                "cpu_us_per_reading": 9.0,
                "peak_rss_mb": 80.0,
            },
        },
        "gateway": bridge(gateway_rate, 30.0),
        "telegraf": bridge(20_000, 40.0),
        "naive": bridge(2_000, 300.0, order=5),
    }


def test_median_and_spread_over_repetitions() -> None:
    s = gateway_report.summarise([repetition(r) for r in (10_000, 30_000, 20_000)])
    rate = s["gateway"]["drain"]["readings_per_s"]
    assert (rate["median"], rate["min"], rate["max"]) == (20_000, 10_000, 30_000)
    assert s["naive"]["order_violations"]["median"] == 5
    assert "p50_ms" not in s["naive"]["latency_10000"]  # a skipped run has no figure


def test_ratios_to_telegraf_and_to_the_limits() -> None:
    ratios = gateway_report.summarise([repetition(20_000)])["ratios"]["gateway"]
    # rate: the lower limit (mosquitto_sub's); CPU: the two tools' CPU per reading added
    assert ratios["Drain, readings/s"] == {"to_telegraf": 1.0, "to_limit": 0.2}
    assert ratios["Drain, CPU µs per reading"] == {"to_telegraf": 0.75, "to_limit": 2.31}
    assert ratios["Peak RSS, MB (VmHWM)"]["to_limit"] is None


def test_goals_judge_the_gateway_only() -> None:
    rep = repetition(20_000)
    report = {
        "summary": gateway_report.summarise([rep, copy.deepcopy(rep)]),
        "machine": {"date": "d", "nproc": 2, "cpu_model": "cpu", "python": "3.11",
                    "load_average_at_start": [1.0], "load_average_at_end": [1.0]},
        "settings": {"quick": True, "readings": 9, "naive_readings": 9, "repetitions": 2,
                     "live_readings": 9, "latency_s": 5.0},
        "wall_seconds": 1.0,
    }  # fmt: skip
    md = gateway_report.markdown(report)
    # the naive bridge's order violations are its own row, not the gateway's goal
    assert (
        "| zero lost, per-sensor order kept (gateway, both runs) | 0 lost, 0 out of order | yes |"
        in md
    )
    assert "| Per-sensor order violations | 0.0 | 0.0 | 5.0 |" in md
    assert "| Drain, readings/s | 20,000 | 20,000 | 2,000 |" in md


def test_one_core_goal_is_judged_by_the_one_core_run() -> None:
    # The goal is the pinned gateway's: its rate and its own CPU per reading, not the 2-core
    # run's (here 11 µs, which alone would fail it).
    rep = repetition(120_000)
    rep["gateway"] = bridge(120_000, 11.0)
    rep["gateway_1core"] = bridge(104_000, 9.2)
    report = {
        "summary": gateway_report.summarise([rep]),
        "settings": {"readings": 9},
    }
    goal = next(line for line in gateway_report._goals(report) if "on one core" in line)
    assert goal.endswith("| 104,000/s on 1 core, 9.2 µs | yes |")
    rep["gateway_1core"] = bridge(104_000, 10.4)
    report["summary"] = gateway_report.summarise([rep])
    goal = next(line for line in gateway_report._goals(report) if "on one core" in line)
    assert goal.endswith("| 104,000/s on 1 core, 10.4 µs | no |")


def test_producer_performance_lines() -> None:
    window = (
        "152384 records sent, 30476.8 records/sec (7.72 MB/sec), 12.3 ms avg latency, "
        "180.0 ms max latency."
    )
    summary = (
        "1000000 records sent, 305904.1 records/sec (77.50 MB/sec), 11.15 ms avg latency, "
        "412.00 ms max latency, 9 ms 50th, 30 ms 95th, 56 ms 99th, 120 ms 99.9th."
    )
    w, s = gateway_peers.PERF_LINE.search(window), gateway_peers.PERF_LINE.search(summary)
    assert w is not None and s is not None
    assert (w[1], w[6]) == ("152384", None)  # a window: no percentiles
    assert (s[1], s[2], s[6], s[8]) == ("1000000", "305904.1", "9", "56")
