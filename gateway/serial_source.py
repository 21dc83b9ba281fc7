"""Serial source: one reader thread per port, deframed by the port's edge codec.

Unplugging the device raises in the reader; it reopens the same (stable) path with backoff.
"""

from __future__ import annotations

import asyncio
import threading
import time

import serial
import structlog

from edge.codec import Rejected
from edge.serial_codecs import CODECS
from gateway.config import SerialPort
from gateway.metrics import GatewayMetrics
from gateway.sources import Deliver, Inbound

log = structlog.get_logger("gateway.serial")

PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


class SerialSourceRunner:
    """Reads one port; frames go to the pipeline as Inbound payloads, rejects as dead letters."""

    def __init__(self, cfg: SerialPort, metrics: GatewayMetrics) -> None:
        self.cfg = cfg
        self.name = f"serial:{cfg.port}"
        self.metrics = metrics
        self.codec = CODECS[cfg.codec]
        self._stop = threading.Event()
        self.opened = threading.Event()

    def _open(self) -> serial.Serial:
        return serial.Serial(
            self.cfg.port,
            baudrate=self.cfg.baud,
            parity=PARITY[self.cfg.parity],
            timeout=0.2,
        )

    def _read_loop(
        self, loop: asyncio.AbstractEventLoop, out: asyncio.Queue[list[Inbound]]
    ) -> None:
        delay = self.cfg.reopen_min_s
        first = True
        while not self._stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError) as exc:
                log.warning("serial_open_failed", port=self.cfg.port, error=str(exc), retry_s=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.cfg.reopen_max_s)
                continue
            if not first:
                self.metrics.serial_reopens.labels(self.cfg.port).inc()
            first = False
            delay = self.cfg.reopen_min_s
            log.info("serial_opened", port=self.cfg.port, codec=self.cfg.codec, baud=self.cfg.baud)
            self.opened.set()
            self.metrics.serial_open.labels(self.cfg.port).set(1)
            deframer = self.codec.deframer()

            def hand_over(frames: list[bytes | Rejected]) -> None:
                now = time.time_ns()
                items = [
                    Inbound("serial", self.cfg.port, f.raw, now, f.reason)
                    if isinstance(f, Rejected)
                    else Inbound("serial", self.cfg.port, f, now)
                    for f in frames
                ]
                if items:
                    loop.call_soon_threadsafe(out.put_nowait, items)

            try:
                while not self._stop.is_set():
                    data = port.read(4096)
                    if data:
                        hand_over(deframer.feed(data))
            except (serial.SerialException, OSError) as exc:
                log.warning("serial_lost", port=self.cfg.port, error=str(exc))
            finally:
                hand_over(deframer.flush())  # a frame cut by the unplug is a dead letter
                self.opened.clear()
                self.metrics.serial_open.labels(self.cfg.port).set(0)
                port.close()

    async def run(self, deliver: Deliver) -> None:
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[list[Inbound]] = asyncio.Queue()
        thread = threading.Thread(
            target=self._read_loop, args=(loop, out), name=self.name, daemon=True
        )
        thread.start()
        try:
            while True:
                batch = await out.get()
                while not out.empty():
                    batch += out.get_nowait()
                self.metrics.messages_in.labels("serial").inc(len(batch))
                await deliver(batch)
        finally:
            self._stop.set()

    async def close(self) -> None:
        self._stop.set()
