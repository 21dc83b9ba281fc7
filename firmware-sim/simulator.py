"""The deterministic core of the simulator: for tick k it returns what every device sends.

`Simulator.step(k)` generates the values of all devices due at tick k in one vectorised pass per
sensor type, applies the active faults, and encodes readings with edge/ (MQTT JSON, or the serial
frame of the device's codec). Nothing here does I/O, so the same seed yields the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from edge import mqtt_json
from edge.catalog import load_catalog
from edge.reading import Reading
from firmware_sim.conditions import conditions_at
from firmware_sim.corruption import corrupt_frame, corrupt_json
from firmware_sim.families import FAULT_STREAM, DeviceModel, Models, encoders, families
from firmware_sim.fault_kinds import SILENCING
from firmware_sim.fault_window import FaultWindow
from firmware_sim.faults import FaultBook
from firmware_sim.fleet import Fleet
from firmware_sim.randomness import tick_rng
from firmware_sim.scenario import Scenario, SerialTransport

MqttMessage = tuple[str, bytes, int]  # topic, payload, qos
SerialMessage = tuple[int, bytes]  # device index, bytes to write


@dataclass(slots=True)
class Batch:
    """What leaves the devices at one tick, and the fault windows that started or ended."""

    tick: int
    t_ns: int
    mqtt: list[MqttMessage] = field(default_factory=list)
    serial: list[SerialMessage] = field(default_factory=list)
    readings: int = 0
    started: list[FaultWindow] = field(default_factory=list)
    ended: list[FaultWindow] = field(default_factory=list)


def _start_ns(scenario: Scenario) -> int:
    start = scenario.clock.start
    if start == "now":
        tick_ns = scenario.clock.tick_ms * 1_000_000
        return time.time_ns() // tick_ns * tick_ns
    return int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000


class Simulator:
    """All devices of a scenario, advanced one tick at a time."""

    def __init__(self, scenario: Scenario, *, start_ns: int | None = None) -> None:
        self.scenario = scenario
        self.fleet = Fleet(scenario)
        self.catalog = load_catalog()
        self.tick_ns = scenario.clock.tick_ms * 1_000_000
        self.start_ns = _start_ns(scenario) if start_ns is None else start_ns
        self.zone = ZoneInfo(scenario.clock.timezone)
        n = len(self.fleet)
        levels = np.asarray([d.traffic_level for d in scenario.districts])[self.fleet.district]
        junction = np.asarray([d.junction for d in self.fleet.devices], dtype=np.int64)
        models = Models(n, levels, scenario.seed, junction)
        self.models: dict[str, DeviceModel] = {name: models.model(name) for name in families()}
        self.interval_s = np.asarray(
            [d.interval_ticks * scenario.clock.tick_ms / 1000 for d in self.fleet.devices]
        )
        self.seq = np.zeros(n, dtype=np.int64)
        self.faults = FaultBook(scenario, self.fleet, self.start_ns, self.catalog)
        self._ids = [d.sensor_id for d in self.fleet.devices]
        self._locations = [d.location for d in self.fleet.devices]
        self._codec: list[str | None] = []
        self._qos: list[int] = []
        for d in self.fleet.devices:
            serial = isinstance(d.transport, SerialTransport)
            self._codec.append(
                d.transport.codec if isinstance(d.transport, SerialTransport) else None
            )
            self._qos.append(0 if serial else d.transport.qos)  # type: ignore[union-attr]
        self._columns = {
            t: [
                (s.name, s.kind, families()[t].decimals_of(s.name))
                for s in self.catalog.sensor(t).fields.values()
            ]
            for t in self.fleet.by_type
        }
        self._held: dict[int, list[MqttMessage | SerialMessage]] = {}
        self._streams = {name: f.stream for name, f in families().items()}
        self._encoders = encoders()

    def time_of(self, tick: int) -> int:
        return self.start_ns + tick * self.tick_ns

    def step(self, tick: int, t_ns: int | None = None) -> Batch:
        """Everything the fleet sends at `tick` (timestamped `t_ns`, by default the tick's time)."""
        t_ns = self.time_of(tick) if t_ns is None else t_ns
        batch = Batch(tick, t_ns)
        batch.started, batch.ended = self.faults.advance(t_ns)
        for window in batch.ended:
            if window.fault == "out_of_order":
                self._release(window.device, batch)
        cond = conditions_at(t_ns, self.zone, self.scenario.weather)
        elapsed_s = (t_ns - self.start_ns) / 1e9
        for sensor_type in self.fleet.by_type:
            due = self.fleet.due(sensor_type, tick)
            if not len(due):
                continue
            rng = tick_rng(self.scenario.seed, self._streams[sensor_type], tick)
            model = self.models[sensor_type]
            values = model.generate(due, cond, self.interval_s[due], elapsed_s, rng)
            if self.faults.active:
                self.faults.apply_values(sensor_type, due, values, t_ns, rng)
            seqs = self.seq[due]
            self.seq[due] += 1
            self._emit(sensor_type, due, seqs, values, t_ns, tick, batch)
            batch.readings += len(due)
        return batch

    def _emit(
        self,
        sensor_type: str,
        due: np.ndarray,
        seqs: np.ndarray,
        values: dict[str, np.ndarray],
        t_ns: int,
        tick: int,
        batch: Batch,
    ) -> None:
        columns = self._columns[sensor_type]
        names = [name for name, _, _ in columns]
        data = [_finish(values[name], kind, decimals).tolist() for name, kind, decimals in columns]
        ids, locations, codecs, qos = self._ids, self._locations, self._codec, self._qos
        emission = self.faults.emission
        mqtt_out, serial_out = batch.mqtt, batch.serial
        encode = mqtt_json.encode
        for dev, seq, row in zip(due.tolist(), seqs.tolist(), zip(*data, strict=True), strict=True):
            reading = Reading(
                sensor_id=ids[dev],
                sensor_type=sensor_type,
                seq=seq,
                ts=t_ns,
                fields=dict(zip(names, row, strict=True)),
                location=locations[dev],
            )
            if dev in emission:
                self._emit_faulty(dev, reading, emission[dev], tick, batch)
                continue
            codec = codecs[dev]
            if codec is None:
                topic, payload = encode(reading)
                mqtt_out.append((topic, payload, qos[dev]))
            else:
                serial_out.append((dev, self._encoders[codec](reading, dev)))

    def _emit_faulty(
        self, dev: int, reading: Reading, windows: list[FaultWindow], tick: int, batch: Batch
    ) -> None:
        kinds = {w.fault: w for w in windows}
        if not SILENCING.isdisjoint(kinds):
            return
        if "clock_skew" in kinds:
            skew = round(kinds["clock_skew"].magnitude * 1e9)
            reading = Reading(
                sensor_id=reading.sensor_id,
                sensor_type=reading.sensor_type,
                seq=reading.seq,
                ts=reading.ts + skew,
                fields=reading.fields,
                location=reading.location,
            )
        codec = self._codec[dev]
        message: MqttMessage | SerialMessage
        rng = tick_rng(self.scenario.seed, FAULT_STREAM, tick * 1_000_003 + dev)
        if codec is None:
            topic, payload = mqtt_json.encode(reading)
            if "malformed" in kinds:
                payload = corrupt_json(payload, rng)
            message = (topic, payload, self._qos[dev])
        else:
            frame = self._encoders[codec](reading, dev)
            if "malformed" in kinds:
                frame = corrupt_frame(frame, rng)
            message = (dev, frame)
        copies = 2 if "duplicate" in kinds else 1
        if "out_of_order" in kinds:
            held = self._held.get(dev)
            if held is None:
                # Hold this reading back; it goes out after the next one.
                self._held[dev] = [message] * copies
                return
            self._deliver([message] * copies, batch)
            self._release(dev, batch)
            return
        self._deliver([message] * copies, batch)

    def _release(self, dev: int, batch: Batch) -> None:
        self._deliver(self._held.pop(dev, []), batch)

    @staticmethod
    def _deliver(messages: list[MqttMessage | SerialMessage], batch: Batch) -> None:
        for message in messages:
            if len(message) == 3:
                batch.mqtt.append(message)
            else:
                batch.serial.append(message)

    def close(self) -> list[FaultWindow]:
        """End the run: the fault windows still open, for the labels file."""
        return self.faults.close()


def _finish(column: np.ndarray, kind: str, decimals: int) -> np.ndarray:
    """A column in the kind the catalog declares, rounded to the device's resolution."""
    if kind == "int":
        return np.rint(column).astype(np.int64)
    if kind == "float":
        return np.round(column.astype(np.float64), decimals)
    if kind == "bool":
        return column.astype(bool)
    return column
