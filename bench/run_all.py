"""Run every benchmark in turn (`make bench`); each writes its figures to bench/results/."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = [
    "journal_bench.py",
    "detect_bench.py",
    "sim_bench.py",
    "tsdb_bench.py",
    "gateway_bench.py --quick",  # the full comparison is its own target: make bench-gateway
    "dashboard_bench.py",
]


def main() -> int:
    failed = []
    for i, name in enumerate(BENCHES, 1):
        print(f"[{i}/{len(BENCHES)}] {name}", flush=True)
        started = time.monotonic()
        script, *args = name.split()
        code = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"[{i}/{len(BENCHES)}] {name}: exit {code} in {time.monotonic() - started:.0f}s")
        if code:
            failed.append(name)
    print("results in bench/results/" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
