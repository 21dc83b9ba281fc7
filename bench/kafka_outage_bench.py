"""CPU the gateway spends while Kafka is down at 200 readings/s intake (issue 10, defect 6).

utime+stime of the gateway process from /proc/<pid>/stat over 60 s, starting 5 s into the
outage, plus the log lines written meanwhile. Run under the stack lock; it stops and restarts
the local Kafka. Writes bench/results/kafka_outage.json (key from argv[1], e.g. before/after).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from deploy.local import Stack
from tests.gateway.harness import GatewayProcess, Publisher, air_readings

RATE, WINDOW_S = 200, 60.0
RESULTS = Path(__file__).with_name("results") / "kafka_outage.json"


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(label: str) -> None:
    stack = Stack()
    conn = stack.up()
    tmp = Path(tempfile.mkdtemp())
    d = f"b{uuid.uuid4().hex[:10]}"
    gw = GatewayProcess(tmp, conn, d).start()
    pub = Publisher(conn)
    stop = threading.Event()

    def stream() -> None:
        readings = air_readings(d, 50, 400)
        for i in range(0, len(readings), 10):
            if stop.is_set():
                return
            pub.readings(readings[i : i + 10])
            time.sleep(10 / RATE)

    threading.Thread(target=stream, daemon=True).start()
    try:
        time.sleep(5)
        stack.down(("kafka",))
        time.sleep(5)
        assert gw.proc is not None
        log0, cpu0, t0 = gw.log.stat().st_size, cpu_s(gw.proc.pid), time.monotonic()
        time.sleep(WINDOW_S)
        cpu1, t1 = cpu_s(gw.proc.pid), time.monotonic()
        lines = gw.log.read_bytes()[log0:].decode(errors="replace").splitlines()
    finally:
        stop.set()
        stack.up(("kafka",))
        pub.close()
        gw.stop()
    result = {
        "rate_readings_per_s": RATE,
        "window_s": round(t1 - t0, 1),
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "log_lines": len(lines),
        "log_bytes": sum(len(x) + 1 for x in lines),
    }
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out[label] = result
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(label, result)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "after")
