"""A gateway-only install (`uv sync --locked --no-dev`, the Raspberry Pi's) has none of the
extras: the gateway's modules, `gateway run` and `gateway check` must import without them."""

from __future__ import annotations

import subprocess
import sys

LEFT_OUT = ("numpy", "influxdb_client", "cryptography", "starlette", "uvicorn")

PROGRAM = f"""
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {LEFT_OUT!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Absent())
import gateway.daemon, gateway.cli, deploy.probes
from gateway.cli import gateway
for command in ("run", "check"):
    gateway.commands[command].callback.__code__  # the commands exist
print("ok")
"""


def test_the_gateway_imports_without_the_extras() -> None:
    run = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "ok"
