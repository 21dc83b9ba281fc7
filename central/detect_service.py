"""Consumer group "detect": readings through the per-sensor Detector, alert transitions out.

Each batch goes through `Detector.process_batch`; its transitions go to city.alerts.v1 and the
InfluxDB "alerts" measurement before the offsets are committed. The detector's state belongs to
the partitions this consumer owns: when partitions are revoked, the state of their sensors is
dropped and the next owner rebuilds it from the readings that follow.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import structlog
from aiokafka import TopicPartition

from central.alert_sink import AlertSink
from central.consumer import Record, readings_of
from central.detect import Detector
from central.influx_writer import Wait
from central.metrics import CentralMetrics
from edge.reading import Reading

log = structlog.get_logger("central.detect")


class DetectHandler:
    name = "detect"

    def __init__(
        self,
        detector: Detector,
        sink: AlertSink,
        metrics: CentralMetrics,
        *,
        silence_check_s: float = 5.0,
    ) -> None:
        self.detector = detector
        self.sink = sink
        self.metrics = metrics
        self.silence_check_s = silence_check_s
        self._owned: dict[TopicPartition, set[str]] = defaultdict(set)
        self._next_silence = time.monotonic() + silence_check_s

    async def handle(self, records: Sequence[Record], wait: Wait) -> None:
        readings: list[Reading] = []
        for rec, r in readings_of(records, self.metrics, self.name):
            readings.append(r)
            self._owned[TopicPartition(rec.topic, rec.partition)].add(r.sensor_id)
        alerts = self.detector.process_batch(readings)
        self.metrics.sensors_tracked.set(self.detector.sensors)
        await self.sink.publish(alerts, wait)

    async def tick(self, wait: Wait, caught_up: bool) -> None:
        now = time.monotonic()
        if now < self._next_silence:
            return
        self._next_silence = now + self.silence_check_s
        # While catching up on a backlog, every sensor looks silent against the wall clock.
        if caught_up:
            await self.sink.publish(self.detector.check_silence(time.time_ns()), wait)

    def assigned(self, partitions: set[TopicPartition]) -> None:
        return None

    def revoked(self, partitions: set[TopicPartition]) -> None:
        dropped = 0
        for tp in partitions:
            for sensor_id in self._owned.pop(tp, set()):
                self.detector.drop(sensor_id)
                dropped += 1
        self.metrics.sensors_tracked.set(self.detector.sensors)
        if dropped:
            log.info("detector_state_dropped", sensors=dropped, partitions=len(partitions))

    def rewind_s(self) -> float:
        return 0.0
