"""The fuzz bench in its quick mode: 2,000 hostile payloads through the real gateway (issue 10);
bench/fuzz_gateway.py without --count runs the million recorded in bench/results/fuzz.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.connections import Connections

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz_gateway.py"


def test_2000_hostile_payloads_no_crash_nothing_unaccounted(
    tmp_path: Path, connections: Connections
) -> None:
    out = tmp_path / "fuzz.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--count", "2000", "--seed", "3", "--out", str(out)],
        capture_output=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout.decode()[-2000:] + run.stderr.decode()[-2000:]
    result = json.loads(out.read_text())
    assert (result["published"], result["crashes"], result["unaccounted"]) == (2000, 0, 0)
    assert result["gateway_exit_code"] == 0 and result["decoder_errors_metric"] == 0
    # Where every payload went is what the edge decoder says of it, code by code.
    assert result["matches_prediction"], result
    assert result["deadletters_by_code"]["too_deep"] > 0 and result["readings"] > 0
