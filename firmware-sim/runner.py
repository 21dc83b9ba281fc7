"""Runs a Simulator in real time: one tick every tick_ms, its messages to MQTT and the ptys, fault
windows to the labels file, progress to stderr; a summary when the duration is up or on Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from firmware_sim.labels import LabelWriter
from firmware_sim.mqtt_publisher import MqttPublisher
from firmware_sim.progress import Progress
from firmware_sim.pty_ports import PtyBank
from firmware_sim.simulator import Batch, Simulator


@dataclass(frozen=True)
class RunSummary:
    devices: int
    ticks: int
    seconds: float
    readings: int
    mqtt_messages: int
    mqtt_completed: int
    serial_frames: int
    faults: int
    labels: int
    max_lag_s: float
    cpu_seconds: float

    def lines(self) -> list[str]:
        rate = self.mqtt_messages / self.seconds if self.seconds else 0.0
        return [
            f"sim: done after {self.seconds:.1f}s ({self.ticks} ticks): {self.devices:,} devices, "
            f"{self.readings:,} readings",
            f"sim: mqtt {self.mqtt_messages:,} messages ({rate:,.0f}/s), "
            f"{self.mqtt_completed:,} delivered; serial {self.serial_frames:,} frames",
            f"sim: {self.faults} fault windows, {self.labels} labels written; max lag "
            f"{self.max_lag_s:.2f}s; cpu {self.cpu_seconds:.1f}s",
        ]


class Runner:
    def __init__(
        self,
        sim: Simulator,
        *,
        publisher: MqttPublisher | None = None,
        ptys: PtyBank | None = None,
        labels: LabelWriter | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.sim = sim
        self.publisher = publisher
        self.ptys = ptys
        self.labels = labels
        self.progress = progress
        self.stop_requested = False
        self.sent = 0
        self.serial_frames = 0
        self.readings = 0
        self.faults = 0

    def run(self, duration_s: float | None) -> RunSummary:
        sim = self.sim
        tick_s = sim.tick_ns / 1e9
        ticks = None if duration_s is None else round(duration_s / tick_s)
        cpu0, t0 = time.process_time(), time.monotonic()
        tick, max_lag = 0, 0.0
        with _stop_on_signals(self):
            try:
                while not self.stop_requested and (ticks is None or tick < ticks):
                    target = t0 + tick * tick_s
                    lag = time.monotonic() - target
                    if lag < 0:
                        self._idle(-lag)
                    max_lag = max(max_lag, lag)
                    self._handle(sim.step(tick))
                    tick += 1
                    if self.progress:
                        self.progress.update(self.sent, len(sim.faults.active), max(lag, 0.0))
            except KeyboardInterrupt:
                pass
            finally:
                end_ns = sim.time_of(tick)
                for window in sim.close():
                    if self.labels:
                        self.labels.write(window, min(window.end_ns, end_ns))
                if self.publisher:
                    self.publisher.drain(timeout=10.0)
        seconds = time.monotonic() - t0
        summary = RunSummary(
            devices=len(sim.fleet),
            ticks=tick,
            seconds=seconds,
            readings=self.readings,
            mqtt_messages=self.sent,
            mqtt_completed=self.publisher.completed if self.publisher else 0,
            serial_frames=self.serial_frames,
            faults=self.faults,
            labels=self.labels.written if self.labels else 0,
            max_lag_s=max_lag,
            cpu_seconds=time.process_time() - cpu0,
        )
        if self.progress:
            self.progress.finish(summary.lines())
        return summary

    def _idle(self, seconds: float) -> None:
        if self.publisher:
            self.publisher.service(seconds)
        else:
            time.sleep(seconds)

    def _handle(self, batch: Batch) -> None:
        self.readings += batch.readings
        self.faults += len(batch.started)
        for window in batch.started:
            if window.fault == "unplug" and self.ptys:
                self.ptys.unplug(window.device)
        for window in batch.ended:
            if window.fault == "unplug" and self.ptys:
                self.ptys.replug(window.device)
            if self.labels:
                self.labels.write(window, window.end_ns)
        if batch.mqtt and self.publisher:
            self.publisher.publish_many(batch.mqtt)
            self.sent += len(batch.mqtt)
        if batch.serial and self.ptys:
            self.ptys.write_many(batch.serial)
            self.serial_frames += len(batch.serial)


@contextmanager
def _stop_on_signals(runner: Runner) -> Iterator[None]:
    """SIGTERM (and SIGINT) end the run cleanly: labels closed, messages drained, summary printed."""

    def request_stop(signum: int, frame: object) -> None:
        runner.stop_requested = True

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
