"""A server process the local stack started: pid file, liveness, log file, stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import StackError


def require_tool(service: str, tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"{service}: '{tool}' not found on PATH ({hint})")
    return path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free_port(service: str, host: str, port: int) -> None:
    """Fail in one line when another process already listens where the service must."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"{service}: port {host}:{port} is already in use by another process "
                f"(stop it, or point citygate at that server with its CITYGATE_* variable)"
            ) from exc


@dataclass
class ManagedProcess:
    """One server process, tracked by a pid file in its own directory of the run dir."""

    name: str
    directory: Path
    marker: str  # a string its command line must contain, so a reused pid is not mistaken
    # Set when this process started it: its exit status is then exact, whereas reading
    # /proc races with the exec of launchers such as java's (cmdline is briefly empty).
    _child: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if self.marker.encode() not in cmdline:
            return None
        try:
            status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return None
        return None if status == "Z" else pid

    def alive(self) -> bool:
        if self._child is not None:
            return self._child.poll() is None
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # outlives `citygate stack up`; stopped as a group
            )
        self.pid_file.write_text(str(proc.pid))
        self._child = proc
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL what is left after `timeout`. True if it ran."""
        pid = self._child.pid if self._child and self._child.poll() is None else self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._running(pid):
                time.sleep(0.1)
            if not self._running(pid):
                break
        self.pid_file.unlink(missing_ok=True)
        self._child = None
        return True

    def _running(self, pid: int) -> bool:
        if self._child is not None and self._child.pid == pid:
            return self._child.poll() is None
        return self.pid() == pid

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(check: object, what: str, timeout: float, proc: ManagedProcess) -> None:
    """Poll `check()` until true; fail with the log tail if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        if not proc.alive():
            raise StackError(
                f"{proc.name} exited while starting; last log lines of {proc.log_file}:\n"
                + proc.tail(15)
            )
        time.sleep(0.3)
    raise StackError(f"{proc.name}: {what} not reached within {timeout:.0f}s (see {proc.log_file})")
