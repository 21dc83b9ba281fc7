"""What the gateway remembers across restarts besides the journal: one small JSON file beside it.

It holds the MQTT topic filters the broker's session may still have (so a changed
`mqtt.topics` unsubscribes the old ones) and the serial sequence numbers reserved per sensor
(so a restart never hands out a (sensor_id, seq) pair again). Every change is written atomically:
a temporary file, fsync, rename over the old one, fsync of the directory.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

import msgspec

from gateway.errors import GatewayStateError

FILENAME: Final = "gateway-state.json"
# Serial seqs are reserved this many at a time, each block fsynced before its first seq is
# used: one small write per block instead of per reading, and a crash costs a gap, never a repeat.
SEQ_BLOCK: Final = 1000


class _Content(msgspec.Struct, forbid_unknown_fields=True):
    mqtt_topics: list[str] = []  # filters the broker's session may hold for this client
    serial_seq: dict[str, int] = {}  # per sensor id: every seq up to this one may be in use


_decoder: Final = msgspec.json.Decoder(_Content)


class GatewayState:
    """The state file of one gateway; safe to change from paho's thread and the event loop."""

    def __init__(self, path: Path, content: _Content) -> None:
        self.path = path
        self._content = content
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path) -> GatewayState:
        """The state kept in `directory` (the journal's), or an empty one on first start."""
        path = directory / FILENAME
        try:
            content = _decoder.decode(path.read_bytes())
        except FileNotFoundError:
            content = _Content()
        except (OSError, msgspec.DecodeError) as exc:
            raise GatewayStateError(
                f"cannot read gateway state {path}: {exc} (it holds the serial sequence "
                "numbers already used; restore it, or remove it knowing that serial readings "
                "will then repeat (sensor_id, seq) pairs)"
            ) from exc
        return cls(path, content)

    @property
    def mqtt_topics(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._content.mqtt_topics)

    def set_mqtt_topics(self, topics: tuple[str, ...]) -> None:
        with self._lock:
            if sorted(set(topics)) != self._content.mqtt_topics:  # spare the SD card
                self._content.mqtt_topics = sorted(set(topics))
                self._write()

    def serial_seq(self, sensor_id: str) -> int:
        """The highest seq of `sensor_id` that may have been used (0: none)."""
        with self._lock:
            return self._content.serial_seq.get(sensor_id, 0)

    def set_serial_seq(self, upto: dict[str, int]) -> None:
        """Record seqs as possibly used, durably, before any of them is handed out."""
        with self._lock:
            self._content.serial_seq.update(upto)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                f.write(msgspec.json.format(msgspec.json.encode(self._content)))
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.path)
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise GatewayStateError(
                f"cannot write gateway state {self.path}: {exc} (is the journal's disk full "
                "or read-only?)"
            ) from exc


class SerialSeqs:
    """Sequence numbers for serial sensors whose frames carry none: per sensor, rising across
    restarts. After a clean stop the next start continues where this one ended; after a crash
    it continues after the last reserved block."""

    def __init__(self, state: GatewayState, block: int = SEQ_BLOCK) -> None:
        self._state = state
        self._block = block
        self._last: dict[str, int] = {}
        self._reserved: dict[str, int] = {}

    def next(self, sensor_id: str) -> int:
        last = self._last.get(sensor_id)
        if last is None:
            last = self._reserved[sensor_id] = self._state.serial_seq(sensor_id)
        seq = last + 1
        if seq > self._reserved[sensor_id]:
            upto = seq + self._block - 1
            self._state.set_serial_seq({sensor_id: upto})
            self._reserved[sensor_id] = upto
        self._last[sensor_id] = seq
        return seq

    def close(self) -> None:
        """Give back the unused part of the reservations: every seq handed out is routed."""
        if self._last:
            self._state.set_serial_seq(dict(self._last))
            self._reserved.update(self._last)
