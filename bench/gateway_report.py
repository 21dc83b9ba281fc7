"""The gateway benchmark's results as figures: median and spread over the repetitions, ratios to
Telegraf and to the machine's limits, a markdown table and a PNG plot (bench/gateway_bench.py).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

BRIDGES = {
    "gateway": "citygate gateway",
    "gateway_1core": "gateway, 1 core (taskset -c 0)",
    "telegraf": "Telegraf",
    "naive": "naive bridge",
}

# (label, path in a bridge's result, which limit the figure compares with)
FIGURES: list[tuple[str, tuple[str, ...], str | None]] = [
    ("Drain, readings/s", ("drain", "readings_per_s"), "rate"),
    ("Drain, CPU µs per reading", ("drain", "cpu_us_per_reading"), "cpu"),
    ("Drain, CPU share of one core", ("drain", "cpu_share_of_one_core"), None),
    ("Peak RSS, MB (VmHWM)", ("peak_rss_mb",), None),
    ("Live run, readings/s", ("live", "readings_per_s"), "rate"),
    ("Live run, CPU µs per reading", ("live", "cpu_us_per_reading"), "cpu"),
    ("Latency p50, ms at 1,000/s", ("latency_1000", "p50_ms"), None),
    ("Latency p99, ms at 1,000/s", ("latency_1000", "p99_ms"), None),
    ("Latency p50, ms at 10,000/s", ("latency_10000", "p50_ms"), None),
    ("Latency p99, ms at 10,000/s", ("latency_10000", "p99_ms"), None),
    ("Readings lost (drain + live)", ("lost",), None),
    ("Per-sensor order violations", ("order_violations",), None),
]


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 2),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def _merge(nodes: list[Any]) -> Any:
    """Numbers at the same place in every repetition become their statistics."""
    if all(isinstance(n, dict) for n in nodes):
        keys = [k for k in nodes[0] if all(k in n for n in nodes)]
        merged = {k: _merge([n[k] for n in nodes]) for k in keys}
        return {k: v for k, v in merged.items() if v is not None}
    if all(isinstance(n, int | float) and not isinstance(n, bool) for n in nodes):
        return _stats([float(n) for n in nodes])
    return None


def _with_totals(result: dict[str, Any]) -> dict[str, Any]:
    phases = [result[p] for p in ("drain", "live") if p in result]
    return {
        **result,
        "lost": sum(p["lost"] for p in phases),
        "order_violations": sum(p["kafka_check"]["order_violations"] for p in phases),
    }


def _get(node: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node.get("median") if isinstance(node, dict) else None


def limit_of(summary: dict[str, Any], kind: str) -> float | None:
    """`rate`: the lower of the two limits' rates; `cpu`: the two tools' CPU per reading added,
    the work (read MQTT, produce to Kafka) no bridge avoids, done by the tools built for it."""
    kafka, mqtt = summary["limits"]["kafka_producer_perf"], summary["limits"]["mosquitto_sub"]
    if kind == "rate":
        return min(kafka["readings_per_s"]["median"], mqtt["readings_per_s"]["median"])
    return float(kafka["cpu_us_per_reading"]["median"] + mqtt["cpu_us_per_reading"]["median"])


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min, max of every figure; ratios of each bridge's medians to Telegraf's and to
    the limit."""
    summary: dict[str, Any] = {"limits": _merge([r["limits"] for r in reps])}
    for name in BRIDGES:
        if all(name in r for r in reps):
            summary[name] = _merge([_with_totals(r[name]) for r in reps])
    ratios: dict[str, Any] = {}
    for name in BRIDGES:
        if name not in summary:
            continue
        ratios[name] = {}
        for label, path, kind in FIGURES:
            value = _get(summary[name], path)
            if value is None:
                continue
            telegraf = _get(summary.get("telegraf"), path)
            limit = limit_of(summary, kind) if kind else None
            ratios[name][label] = {
                "to_telegraf": round(value / telegraf, 2) if telegraf else None,
                "to_limit": round(value / limit, 2) if limit else None,
            }
    summary["ratios"] = ratios
    return summary


def _cell(stats: Any) -> str:
    if not isinstance(stats, dict) or "median" not in stats:
        return "-"
    med, lo, hi = stats["median"], stats["min"], stats["max"]
    fmt = (lambda x: f"{x:,.0f}") if abs(med) >= 100 else (lambda x: f"{x:,.1f}")
    return fmt(med) if lo == hi else f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def _node(summary: dict[str, Any], name: str, path: tuple[str, ...]) -> Any:
    node: Any = summary.get(name)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(report: dict[str, Any]) -> str:
    s, m, cfg = report["summary"], report["machine"], report["settings"]
    names = [n for n in BRIDGES if n in s]
    lim = s["limits"]
    kafka, mqtt = lim["kafka_producer_perf"], lim["mosquitto_sub"]
    lines = [
        "# Gateway benchmark: citygate gateway, Telegraf, a naive bridge and the limits",
        "",
        f"`bench/gateway_bench.py{' --quick' if cfg['quick'] else ''}`, {m['date']}; "
        f"{m['nproc']} cores ({m['cpu_model']}), Python {m['python']}, "
        f"{report.get('telegraf_version', 'Telegraf')}, citygate {report.get('commit', '?')}; "
        "load average "
        f"{m['load_average_at_start']} at the start and {m['load_average_at_end']} at the end "
        f"(1, 5, 15 min); {report['wall_seconds']:,.0f} s in all. "
        f"{cfg['repetitions']} repetition(s): each cell is the median, with the range over the "
        "repetitions in brackets when there were several. Mosquitto, Kafka, the publishers and "
        "the bridge share these cores, so the bridge's own CPU time per reading is the figure "
        "that transfers; rates are what was left, and ratios travel better than either.",
        "",
        "## The limits (no bridge)",
        "",
        "| limit | readings/s | CPU µs per reading | peak RSS, MB |",
        "|---|---:|---:|---:|",
        f"| Kafka: ProducerPerformance, {_cell(kafka['records'])} records of "
        f"{_cell(kafka['record_bytes_mean'])} bytes (the gateway's own), acks=all, idempotent, "
        f"lz4 | {_cell(kafka['readings_per_s'])} | {_cell(kafka['cpu_us_per_reading'])} "
        f"| {_cell(kafka.get('peak_rss_mb'))} |",
        f"| MQTT: mosquitto_sub (C) draining {_cell(mqtt['readings'])} queued QoS 1 readings "
        f"from its persistent session | {_cell(mqtt['readings_per_s'])} | "
        f"{_cell(mqtt['cpu_us_per_reading'])} | {_cell(mqtt.get('peak_rss_mb'))} |",
        "",
        "## The bridges",
        "",
        "| figure | " + " | ".join(BRIDGES[n] for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, path, _ in FIGURES:
        lines.append(f"| {label} | " + " | ".join(_cell(_node(s, n, path)) for n in names) + " |")
    lines += [
        "",
        "## Ratios (medians): to Telegraf / to the limit",
        "",
        "The limit of a rate is the lower of the two limits' rates "
        f"({limit_of(s, 'rate'):,.0f}/s); the limit of CPU per reading is the two tools' CPU "
        f"per reading added ({limit_of(s, 'cpu'):.1f} µs: reading MQTT and producing to Kafka, "
        "by the tools built for it). RSS and latency have no limit figure.",
        "",
        "| figure | " + " | ".join(BRIDGES[n] for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, _, _ in FIGURES[:10]:
        cells = []
        for n in names:
            r = s["ratios"][n].get(label)
            cells.append(
                "-" if r is None else f"{_ratio(r['to_telegraf'])} / {_ratio(r['to_limit'])}"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *_goals(report), "", *_issue_table(report), "", *_notes(report)]
    if "profile" in report:
        lines += [
            "",
            "## Where the gateway's CPU goes (py-spy, during a drain)",
            "",
            report["profile"]["note"],
            "",
            "| stage | CPU µs per reading |",
            "|---|---:|",
        ]
        for stage, us in report["profile"]["stages"].items():
            lines.append(f"| {stage} | {us} |")
    return "\n".join(lines) + "\n"


# The issue's "where it stands" table (two runs of 200,000 readings), beside which this run's
# figures are shown: (drain readings/s, CPU µs per reading, peak RSS MB), one string per run.
ISSUE_13 = {
    "gateway": ("8,798 / 14,182", "87.7 / 68.9", "158.9 / 156.6"),
    "telegraf": ("21,660 / 32,381", "43.9 / 38.1", "82.8 / 84.4"),
}


def _issue_table(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    lines = [
        "## Issue 13's table, with this run's figures beside it",
        "",
        "| bridge | drain readings/s (issue) | this run | CPU µs per reading (issue) | this run "
        "| peak RSS MB (issue) | this run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (rate, cpu, rss) in ISSUE_13.items():
        if name in s:
            drain = s[name]["drain"]
            lines.append(
                f"| {BRIDGES[name]} | {rate} | {_cell(drain['readings_per_s'])} | {cpu} | "
                f"{_cell(drain['cpu_us_per_reading'])} | {rss} | {_cell(s[name]['peak_rss_mb'])} |"
            )
    return lines


def _goals(report: dict[str, Any]) -> list[str]:
    """Issue 13's goals, each against what this run measured."""
    s = report["summary"]
    rate_limit = limit_of(s, "rate")
    one_core = _get(s.get("gateway_1core"), ("drain", "readings_per_s"))
    one_core_cpu = _get(s.get("gateway_1core"), ("drain", "cpu_us_per_reading"))
    cpu = _get(s.get("gateway"), ("drain", "cpu_us_per_reading"))
    telegraf_cpu = _get(s.get("telegraf"), ("drain", "cpu_us_per_reading"))
    rate = _get(s.get("gateway"), ("drain", "readings_per_s"))
    p99 = _get(s.get("gateway"), ("latency_10000", "p99_ms"))
    rss = _get(s.get("gateway"), ("peak_rss_mb",))
    gateways = ("gateway", "gateway_1core")
    lost = sum(_get(s.get(n), ("lost",)) or 0 for n in gateways)
    order = sum(_get(s.get(n), ("order_violations",)) or 0 for n in gateways)

    def row(goal: str, value: str, met: bool | None) -> str:
        return f"| {goal} | {value} | {'-' if met is None else ('yes' if met else 'no')} |"

    def num(x: float | None, fmt: str = ",.0f") -> str:
        return "-" if x is None else format(x, fmt)

    return [
        "## Issue 13's goals against this run (gateway medians)",
        "",
        "| goal | measured | met |",
        "|---|---:|---|",
        row(
            "drain >= 100,000/s on one core (or the limit decides), CPU <= 10 µs per reading",
            f"{num(one_core)}/s on 1 core, {num(one_core_cpu, '.1f')} µs",
            None
            if one_core is None or one_core_cpu is None
            else (one_core >= 100_000 and one_core_cpu <= 10),
        ),
        row(
            "CPU per reading <= 1/3 of Telegraf's",
            f"{num(cpu, '.1f')} vs {num(telegraf_cpu, '.1f')} µs",
            None if cpu is None or not telegraf_cpu else cpu <= telegraf_cpu / 3,
        ),
        row(
            "drain >= half the lower limit",
            f"{num(rate)} vs {num(rate_limit)}/s",
            None if rate is None or rate_limit is None else rate >= rate_limit / 2,
        ),
        row("p99 <= 50 ms at 10,000/s", f"{num(p99, '.1f')} ms", None if p99 is None else p99 <= 50),
        row(
            "peak RSS <= 50 MB through a 1,000,000-reading drain",
            f"{num(rss, '.1f')} MB ({report['settings']['readings']:,} readings)",
            None if rss is None else rss <= 50,
        ),
        row("zero lost, per-sensor order kept (gateway, both runs)", f"{lost:.0f} lost, {order:.0f} out of order", lost == 0 and order == 0),
    ]  # fmt: skip


def _notes(report: dict[str, Any]) -> list[str]:
    cfg = report["settings"]
    return [
        "## How it was measured",
        "",
        f"- Drain: {cfg['readings']:,} readings (the naive bridge: {cfg['naive_readings']:,}, "
        "as it drains at a few thousand a second) were published by 2 QoS 1 publisher processes, 1,000 "
        "sensors, to each bridge's topics while it was stopped; Mosquitto queued them for its "
        "persistent session. The bridge was then started and timed from the first of its "
        "records in Kafka to the last (Kafka's end offsets, polled every 50 ms, the same for "
        "every bridge); CPU is the bridge process's utime + stime from /proc over the same "
        "interval, peak RSS its VmHWM.",
        "- Count and order: after each drain and live run every record of the bridge's district "
        "between the phase's start and end offsets was read back: lost = published minus "
        "distinct (sensor, seq); an order violation is a sensor's seq lower than one seen "
        "before it in its partition (a redelivered duplicate of the last one is counted as a "
        "duplicate in the JSON, not a violation).",
        f"- Live: {cfg['live_readings']:,} readings (the naive bridge: its drain's count, if "
        "fewer) published at full speed while the bridge runs, timed from the first record in "
        "Kafka to the last; the rate is bounded by the publishers as much as by the bridge.",
        f"- Latency: publishers paced at each rate for {cfg['latency_s']:.0f} s; latency is a "
        "consumer's fetch time minus the publish time in the payload (millisecond precision), "
        "an upper bound of publish-to-Kafka-acknowledgement (it includes the consumer's 5 ms "
        "fetch wait). A bridge whose drain rate is below 1.2 times a rate is not run at it.",
        "- The gateway pinned to one core (`taskset -c 0`) runs the drain only.",
        "- Telegraf: a custom build (`-tags custom,inputs.mqtt_consumer,outputs.kafka,"
        "parsers.json,serializers.json`) from its Go module, cached by "
        "bench/peers/build_telegraf.sh; QoS 1, persistent_session, fixed client_id, "
        "required_acks -1, lz4, JSON in and out, keyed by sensor id (bench/gateway_peers.py "
        "has the whole configuration). MQTT 3.1.1, as Telegraf speaks it.",
        "- The naive bridge acknowledges to MQTT before Kafka has the reading (automatic acks, "
        "no journal): it can lose what it holds when it dies. Same producer settings as the "
        "gateway.",
        *(f"- {note}" for note in report.get("notes", [])),
    ]


def plot(report: dict[str, Any], path: Path) -> None:
    """Drain rate and CPU per reading of each bridge (median, range bars) beside the limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    names = [n for n in BRIDGES if n in s]
    labels = [BRIDGES[n].replace(" (taskset -c 0)", "") for n in names]
    fig, (ax_rate, ax_cpu) = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, path_, title in (
        (ax_rate, ("drain", "readings_per_s"), "Drain of a queued backlog, readings/s"),
        (ax_cpu, ("drain", "cpu_us_per_reading"), "Bridge CPU µs per reading (drain)"),
    ):
        stats = [_node(s, n, path_) for n in names]
        med = [st["median"] for st in stats]
        err = [
            [st["median"] - st["min"] for st in stats],
            [st["max"] - st["median"] for st in stats],
        ]
        ax.bar(labels, med, yerr=err, capsize=4, color="#4878a8")
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=15)
    kafka = s["limits"]["kafka_producer_perf"]["readings_per_s"]["median"]
    mqtt = s["limits"]["mosquitto_sub"]["readings_per_s"]["median"]
    ax_rate.axhline(kafka, color="#c44e52", linestyle="--", label=f"Kafka limit {kafka:,.0f}/s")
    ax_rate.axhline(mqtt, color="#55a868", linestyle=":", label=f"MQTT limit {mqtt:,.0f}/s")
    ax_rate.legend()
    ax_cpu.axhline(
        limit_of(s, "cpu"), color="#c44e52", linestyle="--", label="limit tools' CPU added"
    )
    ax_cpu.legend()
    cfg = report["settings"]
    fig.suptitle(
        f"citygate gateway benchmark, {cfg['readings']:,} readings, "
        f"{cfg['repetitions']} repetition(s), {report['machine']['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
