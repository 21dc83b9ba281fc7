"""The live progress line on stderr (devices, messages, rate, active faults) and the end summary."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Rewrites one status line on a terminal; on a pipe, prints a line every few seconds."""

    def __init__(self, devices: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.devices = devices
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.every = 1.0 if self.tty else 5.0
        self.started = time.monotonic()
        self._last = self.started
        self._last_sent = 0

    def update(
        self, sent: int, active_faults: int, lag_s: float = 0.0, force: bool = False
    ) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < self.every and not force):
            return
        rate = (sent - self._last_sent) / max(now - self._last, 1e-9)
        self._last, self._last_sent = now, sent
        line = (
            f"sim: {self.devices:,} devices  {sent:,} msgs  {rate:,.0f} msg/s  "
            f"faults {active_faults} active  lag {lag_s:.2f}s  t+{now - self.started:.0f}s"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, lines: list[str]) -> None:
        if self.tty and self.enabled:
            self.stream.write("\n")
        for line in lines:
            self.stream.write(line + "\n")
        self.stream.flush()
