"""Serial devices as pseudo-terminals: one pty pair per device, in raw mode, reachable through a
stable symlink (<dir>/<sensor_id>) that pyserial and the gateway open like /dev/ttyUSB0.

Unplugging closes the pty, so a reader sees the line hang up; replugging opens a new pair and
points the same symlink at it, as udev does with a stable /dev/serial/by-id name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tty
from pathlib import Path

from firmware_sim.errors import TransportError


class PtyPort:
    """The device side of one virtual serial line."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self._slave: int | None = None
        self.written = 0
        self.dropped = 0  # bytes nobody read: the line's buffer was full, as on a real UART

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        try:
            master, slave = os.openpty()
        except OSError as exc:
            raise TransportError(
                f"cannot open a pseudo-terminal for {self.link.name}: {exc}", target=str(self.link)
            ) from exc
        # Raw mode: binary frames pass untouched (no echo, no CR/LF translation, no ^C).
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        tmp = self.link.with_name(f".{self.link.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self._slave, self.master):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None

    def write(self, data: bytes) -> None:
        if self.master is None:
            return
        try:
            sent = os.write(self.master, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise TransportError(
                    f"writing to {self.link}: {exc}", target=str(self.link)
                ) from exc
            sent = 0
        self.written += sent
        self.dropped += len(data) - sent


class PtyBank:
    """The ptys of all serial devices of a run, under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports: dict[int, PtyPort] = {}

    def open(self, devices: dict[int, str]) -> None:
        """Plug one port per device index, linked at <directory>/<sensor_id>."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for index, sensor_id in devices.items():
            port = PtyPort(self.directory / sensor_id)
            port.plug()
            self.ports[index] = port

    def write_many(self, messages: list[tuple[int, bytes]]) -> None:
        ports = self.ports
        for index, data in messages:
            ports[index].write(data)

    def unplug(self, index: int) -> None:
        self.ports[index].unplug()

    def replug(self, index: int) -> None:
        port = self.ports[index]
        if not port.plugged:
            port.plug()

    @property
    def written(self) -> int:
        return sum(p.written for p in self.ports.values())

    def close(self) -> None:
        for port in self.ports.values():
            port.unplug()
