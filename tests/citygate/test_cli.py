"""The `citygate` command as a user runs it: subcommands from entry points, and every invalid
configuration ends with one line naming the key and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CITYGATE = str(Path(sys.executable).with_name("citygate"))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CITYGATE, *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_subcommand_is_registered() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in ("central", "dashboard", "demo", "gateway", "sim", "stack"):
        assert f"  {name} " in result.stdout
    evaluate = _run("central", "evaluate", "--help")
    assert "  nab " in evaluate.stdout and "  sim " in evaluate.stdout


@pytest.mark.parametrize(
    ("command", "file_text", "key"),
    [
        (["gateway", "run", "--config"], "gateway_id: gw\nmqtt:\n  port: banana\n", "mqtt.port"),
        (["gateway", "check", "--config"], "gateway_id: gw\nbatch:\n  max_records: 0\n", "batch"),
        (["central", "run", "--config"], "run: [tsdb, nowhere]\n", "run.1"),
        (["dashboard", "--config"], "port: banana\n", "port"),
        (["sim", "run", "--duration", "1", "--scenario"], "clock: {tick_ms: -5}\n", "tick_ms"),
    ],
)
def test_an_invalid_configuration_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str], file_text: str, key: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(file_text)
    result = _run(*command, str(config))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("citygate: error: ")
    assert key in lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_configuration_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run("central", "run", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "absent.yaml" in result.stderr
