"""Bring the local stack up, report its health, stop it: `citygate stack up|status|down|logs`."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from deploy import connections
from deploy.connections import Connections
from deploy.local.influxdb import InfluxDB
from deploy.local.kafka import Kafka
from deploy.local.mosquitto import Mosquitto
from deploy.local.process import ManagedProcess

SERVICES = ("mosquitto", "kafka", "influxdb")


@dataclass(frozen=True)
class Health:
    service: str
    running: bool
    healthy: bool
    pid: int | None
    detail: str


class Stack:
    def __init__(self, run: Path | None = None, cache: Path | None = None) -> None:
        self.run = run or connections.run_dir()
        self.cache = cache or connections.cache_dir()
        self.conn = connections.load()
        self.mosquitto = Mosquitto(self.run, self.conn)
        self.kafka = Kafka(self.run, self.cache, self.conn)
        self.influxdb = InfluxDB(self.run, self.cache, self.conn)

    def _select(self, names: tuple[str, ...]) -> list[Mosquitto | Kafka | InfluxDB]:
        return [getattr(self, n) for n in (names or SERVICES)]

    def up(self, names: tuple[str, ...] = ()) -> Connections:
        self.run.mkdir(parents=True, exist_ok=True)
        for service in self._select(names):
            started = time.monotonic()
            was_up = service.process.alive()
            if isinstance(service, InfluxDB):
                self.conn = service.up()
                self.conn.save(connections.connections_file())
            else:
                service.up()
            verb = "already up" if was_up else f"up in {time.monotonic() - started:.1f}s"
            print(f"{service.name}: {verb} at {service.detail()}", flush=True)
        self.conn.save(connections.connections_file())
        return self.conn

    def down(self, names: tuple[str, ...] = (), purge: bool = False) -> list[str]:
        stopped = [s.name for s in reversed(self._select(names)) if s.process.stop()]
        if purge and not names:
            shutil.rmtree(self.run, ignore_errors=True)
        return stopped

    def status(self) -> list[Health]:
        report = []
        for service in self._select(()):
            pid = service.process.pid()
            healthy = pid is not None and service.healthy()
            report.append(Health(service.name, pid is not None, healthy, pid, service.detail()))
        return report

    def process(self, name: str) -> ManagedProcess:
        service: Mosquitto | Kafka | InfluxDB = getattr(self, name)
        return service.process
