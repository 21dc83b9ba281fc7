"""Micro-benchmark of the gateway journal's storage choices on this machine.

Compares (a) append-only segment files with CRC32C framing and (b) SQLite in WAL mode with
synchronous=FULL at group commits of 100 and 1000 records of ~300 bytes, then measures the real
`gateway.journal.Journal` end to end. Writes bench/results/journal.json.

    .venv/bin/python bench/journal_bench.py [--dir PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import google_crc32c

from gateway import journal_format as fmt
from gateway.journal import Journal, JournalRecord

RESULTS = Path(__file__).parent / "results" / "journal.json"


def make_record(i: int) -> JournalRecord:
    """A reading-sized record: ~300 bytes framed, like an air-quality reading on Kafka."""
    value = (
        b'{"sensor_id":"aq-%06d","sensor_type":"air_quality","seq":%d,"ts":1700000000000000000,'
        b'"fields":{"pm1":3.1,"pm25":7.9,"pm10":12.4,"no2":18.0,"o3":31.5,"temperature":17.2,'
        b'"relative_humidity":61.0},"gateway_id":"gw-07"}' % (i % 5000, i)
    )
    return JournalRecord(
        topic="city.air_quality.v1",
        key=b"aq-%06d" % (i % 5000),
        value=value,
        headers=(("gateway_id", b"gw-07"), ("schema_version", b"1")),
        sensor_type="air_quality" if i % 3 else "traffic_signal",
        ts=1_700_000_000_000_000_000 + i,
    )


class Meter:
    """Wall and CPU time (all threads of the process) around a block."""

    def __enter__(self) -> Meter:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def figures(self, records: int, fsyncs: int) -> dict[str, float]:
        return {
            "records": records,
            "seconds": round(self.wall, 3),
            "records_per_s": round(records / self.wall),
            "fsyncs_per_s": round(fsyncs / self.wall, 1),
            "cpu_us_per_record": round(self.cpu / records * 1e6, 2),
        }


def raw_segment(directory: Path, records: list[JournalRecord], group: int) -> dict[str, Any]:
    """Frame, write and fdatasync one group at a time into a segment file."""
    fd = os.open(directory / "bench.seg", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
    os.write(fd, fmt.segment_header(1))
    fsyncs = 0
    with Meter() as m:
        for start in range(0, len(records), group):
            buf = bytearray()
            for i, record in enumerate(records[start : start + group], start + 1):
                fmt.append_data(buf, i, fmt.encode_payload(record))
            os.write(fd, buf)
            os.fdatasync(fd)
            fsyncs += 1
    size = os.fstat(fd).st_size
    os.close(fd)
    return {**m.figures(len(records), fsyncs), "bytes_per_record": round(size / len(records))}


def _sqlite(path: Path, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY, sensor_type TEXT NOT NULL,"
        " ts INTEGER NOT NULL, crc INTEGER NOT NULL, payload BLOB NOT NULL)"
    )
    return db


def raw_sqlite(
    directory: Path, records: list[JournalRecord], group: int, synchronous: str
) -> dict[str, Any]:
    """Insert one group per transaction (a WAL commit with fsync when synchronous=FULL)."""
    path = directory / f"bench-{synchronous}.db"
    db = _sqlite(path, synchronous)
    insert = "INSERT INTO journal VALUES (?, ?, ?, ?, ?)"
    with Meter() as m:
        for start in range(0, len(records), group):
            rows = []
            for i, record in enumerate(records[start : start + group], start + 1):
                payload = fmt.encode_payload(record)
                rows.append(
                    (i, record.sensor_type, record.ts, google_crc32c.value(payload), payload)
                )
            db.execute("BEGIN")
            db.executemany(insert, rows)
            db.execute("COMMIT")
    appended = m.figures(len(records), len(records) // group)
    # The sink side: read the oldest batch, then delete it once "Kafka acknowledged" it.
    with Meter() as d:
        while True:
            batch = db.execute(
                "SELECT id, payload FROM journal ORDER BY id LIMIT ?", (group,)
            ).fetchall()
            if not batch:
                break
            for _id, payload in batch:
                fmt.decode_payload(payload)
            db.execute("BEGIN")
            db.execute("DELETE FROM journal WHERE id <= ?", (batch[-1][0],))
            db.execute("COMMIT")
    db.close()
    wal = path.with_name(path.name + "-wal")
    written = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return {
        **appended,
        "drain": d.figures(len(records), len(records) // group),
        "file_bytes_after_drain": written,
    }


async def _journal_run(
    directory: Path,
    records: list[JournalRecord],
    *,
    producers: int,
    batch: int,
    commit_records: int,
) -> dict[str, Any]:
    journal = await Journal.open(
        directory, commit_records=commit_records, max_bytes=1 << 30, commit_interval_ms=5
    )
    latencies: list[float] = []
    chunks = [records[i : i + batch] for i in range(0, len(records), batch)]
    queue = iter(chunks)

    async def produce() -> None:
        for chunk in queue:
            t0 = time.perf_counter()
            await journal.append(chunk)
            latencies.append(time.perf_counter() - t0)

    with Meter() as m:
        await asyncio.gather(*(produce() for _ in range(producers)))
    appended = m.figures(len(records), journal.fsyncs_total)
    fsyncs_before = journal.fsyncs_total
    with Meter() as d:
        drained = 0
        while batch_out := journal.peek(1000, 1 << 20):
            drained += len(batch_out)
            journal.release(batch_out[-1][0])
    assert drained == len(records), (drained, len(records))
    await journal.close()
    latencies.sort()
    return {
        **appended,
        "producers": producers,
        "records_per_append": batch,
        "commit_records": commit_records,
        "append_calls": len(chunks),
        "fsyncs": fsyncs_before,
        "append_latency_ms_p50": round(statistics.median(latencies) * 1e3, 2),
        "append_latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1e3, 2),
        "drain": d.figures(drained, 0),
    }


def journal_run(directory: Path, records: list[JournalRecord], **kw: int) -> dict[str, Any]:
    return asyncio.run(_journal_run(directory, records, **kw))


def _fresh(
    base: Path, name: str, run: Callable[[Path], dict[str, Any]], repeat: int = 3
) -> dict[str, Any]:
    """The median run by records/s: fsync latency on shared machines is noisy."""
    results = []
    for _ in range(repeat):
        directory = base / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        try:
            results.append(run(directory))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    results.sort(key=lambda r: r["records_per_s"])
    result = {
        **results[len(results) // 2],
        "runs_records_per_s": [r["records_per_s"] for r in results],
    }
    print(f"{name:34s} {json.dumps(result)}")
    return result


def _fsync_latency_ms(directory: Path) -> float:
    fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    t0 = time.perf_counter()
    for _ in range(50):
        os.write(fd, b"x" * 30_000)
        os.fdatasync(fd)
    os.close(fd)
    return round((time.perf_counter() - t0) / 50 * 1e3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="fewer records, for a smoke run")
    args = parser.parse_args()
    n = 20_000 if args.quick else 200_000
    records = [make_record(i) for i in range(n)]
    base = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=args.dir))
    small = records[: n // 4]  # 100-record groups need 10x the fsyncs
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "fdatasync_ms_30kB": _fsync_latency_ms(base),
        },
        "record_bytes_framed": len(fmt.encode_payload(records[0])) + fmt.FRAME_OVERHEAD,
    }
    raw: dict[str, Any] = {}
    for group, recs in ((100, small), (1000, records)):
        raw[f"segment_group{group}"] = _fresh(
            base, f"segment group {group}", partial(raw_segment, records=recs, group=group)
        )
        for sync in ("FULL", "NORMAL"):
            raw[f"sqlite_wal_{sync.lower()}_group{group}"] = _fresh(
                base,
                f"sqlite WAL {sync} group {group}",
                partial(raw_sqlite, records=recs, group=group, synchronous=sync),
            )
    results["raw"] = raw
    runs = {
        "batch100_x20_producers_commit1000": {"producers": 20, "batch": 100, "commit": 1000},
        "batch100_x2_producers_commit100": {"producers": 2, "batch": 100, "commit": 100},
        "single_record_x1000_producers_commit1000": {"producers": 1000, "batch": 1, "commit": 1000},
    }
    journal: dict[str, Any] = {}
    for name, cfg in runs.items():
        recs = records if cfg["batch"] > 1 else records[: n // 4]
        journal[name] = _fresh(
            base,
            f"journal {name}",
            partial(
                journal_run,
                records=recs,
                producers=cfg["producers"],
                batch=cfg["batch"],
                commit_records=cfg["commit"],
            ),
        )
    results["journal"] = journal
    shutil.rmtree(base, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
