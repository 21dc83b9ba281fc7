"""Serial source: one reader thread per port, deframed by the port's edge codec.

Unplugging the device raises in the reader; it reopens the same (stable) path with backoff.
Each frame is stamped with its own arrival time (gateway.frame_clock).
"""

from __future__ import annotations

import asyncio
import threading
import time

import serial
import structlog
from tenacity import RetryCallState, stop_when_event_set

from deploy.retry import retrying
from edge.codec import Rejected
from edge.serial_codecs import CODECS
from gateway.config import SerialPort
from gateway.frame_clock import FrameClock
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
        self.clock = FrameClock(cfg.baud, cfg.parity)  # kept across reopens: stamps only rise
        self._stop = threading.Event()
        self.opened = threading.Event()

    def inbound(self, frames: list[bytes | Rejected], read_ns: int, size: int) -> list[Inbound]:
        """The pipeline's items for what a deframer made of `size` bytes read at `read_ns`."""
        stamps = self.clock.stamps(
            read_ns, size, (len(f.raw) if isinstance(f, Rejected) else len(f) for f in frames)
        )
        return [
            Inbound("serial", self.cfg.port, f.raw, ts, f.reason)
            if isinstance(f, Rejected)
            else Inbound("serial", self.cfg.port, f, ts)
            for f, ts in zip(frames, stamps, strict=True)
        ]

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
        def failed(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning("serial_open_failed", port=self.cfg.port, error=str(exc), retry_s=delay)

        first = True
        while not self._stop.is_set():
            try:
                for attempt in retrying(
                    self.cfg.reopen_min_s,
                    self.cfg.reopen_max_s,
                    (serial.SerialException, OSError),
                    sleep=self._stop.wait,
                    stop=stop_when_event_set(self._stop),
                    before_sleep=failed,
                ):
                    with attempt:
                        port = self._open()
            except (serial.SerialException, OSError):
                return  # stopped while the port was away
            if not first:
                self.metrics.serial_reopens.labels(self.cfg.port).inc()
            first = False
            log.info("serial_opened", port=self.cfg.port, codec=self.cfg.codec, baud=self.cfg.baud)
            self.opened.set()
            self.metrics.serial_open.labels(self.cfg.port).set(1)
            deframer = self.codec.deframer()

            def hand_over(frames: list[bytes | Rejected], read_ns: int, size: int) -> None:
                if frames:
                    items = self.inbound(frames, read_ns, size)
                    loop.call_soon_threadsafe(out.put_nowait, items)

            try:
                while not self._stop.is_set():
                    # What is waiting, or block for one byte: a read returns as soon as bytes
                    # are here, so its time is when the last of them arrived.
                    data = port.read(port.in_waiting or 1)
                    if data:
                        hand_over(deframer.feed(data), time.time_ns(), len(data))
            except (serial.SerialException, OSError) as exc:
                log.warning("serial_lost", port=self.cfg.port, error=str(exc))
            finally:
                # A frame cut by the unplug is a dead letter.
                hand_over(deframer.flush(), time.time_ns(), 0)
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
                self.metrics.messages_journaled.labels("serial").inc(len(batch))
        finally:
            self._stop.set()

    async def close(self) -> None:
        self._stop.set()
