"""The central consumers in one process: the groups named in `run`, health and metrics on HTTP.

Each group is an independent Kafka consumer group, so any of them can run alone elsewhere to
scale out (`citygate central run --only detect`). SIGTERM stops polling; a batch being written
is left uncommitted and is read again by the next owner.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from central.alert_sink import AlertSink
from central.config import CentralConfig
from central.consumer import GroupConsumer, Handler
from central.detect import Detector
from central.detect_service import DetectHandler
from central.errors import CentralFailed
from central.influx_writer import InfluxWriter
from central.liveness import LivenessHandler
from central.metrics import CentralMetrics
from central.tsdb import TsdbHandler
from deploy.health import HealthServer, make_app
from deploy.supervise import Supervisor, cancel, run_until_signalled

log = structlog.get_logger("central")


class CentralService:
    def __init__(self, cfg: CentralConfig, metrics: CentralMetrics | None = None) -> None:
        self.cfg = cfg
        self.metrics = metrics or CentralMetrics()
        self.started = time.time()
        self.consumers: list[GroupConsumer] = []
        self.writers: list[InfluxWriter] = []
        self.sinks: list[AlertSink] = []

    def _build(self) -> None:
        cfg, m = self.cfg, self.metrics
        if "tsdb" in cfg.run:
            writer = InfluxWriter(
                cfg.influx,
                m,
                "tsdb",
                lines_per_request=cfg.tsdb.lines_per_request,
                concurrency=cfg.tsdb.concurrent_requests,
            )
            self.writers.append(writer)
            self._add(cfg.tsdb, TsdbHandler(writer, m))
        if "detect" in cfg.run:
            sink = AlertSink(cfg.kafka, cfg.influx, cfg.detect.alerts_topic, m, "detect")
            self.sinks.append(sink)
            handler = DetectHandler(Detector(), sink, m, silence_check_s=cfg.detect.silence_check_s)
            self._add(cfg.detect, handler)
        if "liveness" in cfg.run:
            sink = AlertSink(cfg.kafka, cfg.influx, cfg.liveness.alerts_topic, m, "liveness")
            writer = InfluxWriter(cfg.influx, m, "liveness", concurrency=1)
            self.sinks.append(sink)
            self.writers.append(writer)
            self._add(cfg.liveness, LivenessHandler(cfg.liveness, writer, sink, m))

    def _add(self, group: Any, handler: Handler) -> None:
        self.consumers.append(GroupConsumer(group, self.cfg.kafka, handler, self.metrics))

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        groups = {
            c.group: {
                "group_id": c.cfg.group_id,
                "partitions": len(c.consumer.assignment()),
                "last_poll_s_ago": round(now - c.last_poll, 2) if c.last_poll else None,
            }
            for c in self.consumers
        }
        influx_ok = all(w.healthy for w in self.writers) and all(
            s.writer.healthy for s in self.sinks
        )
        polling = all(c.last_poll and now - c.last_poll < 60 for c in self.consumers)
        return {
            "status": "ok" if influx_ok and polling else "degraded",
            "uptime_s": round(time.time() - self.started, 1),
            "influx_ok": influx_ok,
            "groups": groups,
        }

    async def wait_assigned(self, timeout_s: float = 30.0) -> None:
        """For tests and tools: until every group has its first assignment."""
        await asyncio.wait_for(
            asyncio.gather(*(c.started.wait() for c in self.consumers)), timeout_s
        )

    async def run(self, stop: asyncio.Event, *, http: bool = True) -> None:
        self._build()
        server = None
        if http:
            server = HealthServer(
                make_app(self.metrics.registry, self.status), self.cfg.http.host, self.cfg.http.port
            )
            server.start()
        log.info("central_starting", groups=list(self.cfg.run), bootstrap=self.cfg.kafka.bootstrap)
        for sink in self.sinks:
            await sink.start()
        async with Supervisor("central") as supervisor:
            tasks = [supervisor.start(c.group, c.run()) for c in self.consumers]
            await supervisor.wait(stop)
            for c in self.consumers:
                c.stop.set()
            try:
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
            except TimeoutError:
                await cancel(*tasks)
        for sink in self.sinks:
            await sink.close()
        for writer in self.writers:
            writer.close()
        if server is not None:
            server.stop()
        log.info("central_stopped")
        supervisor.raise_if_failed(CentralFailed)


def run_forever(cfg: CentralConfig) -> None:
    run_until_signalled(CentralService(cfg).run)
