"""Writes line protocol to InfluxDB and does not give up: a batch is acknowledged or retried.

The synchronous write API runs in a thread pool, a few requests at a time. Transient failures
(connection refused, timeouts, 5xx, 429, 401/403 while a token is being fixed) are retried with
exponential backoff through a `wait` callable supplied by the caller, so a Kafka consumer can keep
its partitions paused while it waits. Requests InfluxDB refuses as invalid (400, 413, 422) cannot
succeed by retrying: they are logged and counted, and the batch moves on.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog
import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from central.config import Influx
from central.metrics import CentralMetrics

log = structlog.get_logger("central.influx")

Wait = Callable[[float], Awaitable[None]]
_INVALID = frozenset({400, 413, 422})


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class InfluxWriter:
    def __init__(
        self,
        cfg: Influx,
        metrics: CentralMetrics,
        group: str,
        *,
        lines_per_request: int = 10000,
        concurrency: int = 2,
    ) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.group = group
        self.lines_per_request = lines_per_request
        # Our own retry loop decides; urllib3 must not retry (and block a thread) underneath it.
        self.client = InfluxDBClient(
            url=cfg.url, token=cfg.token, org=cfg.org, timeout=cfg.timeout_ms, retries=False
        )
        self.api = self.client.write_api(write_options=SYNCHRONOUS)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"influx-{group}")
        self.healthy = True

    def _post(self, body: str) -> None:
        self.api.write(bucket=self.cfg.bucket, org=self.cfg.org, record=body)

    async def write(
        self, lines: Sequence[str], measurement: str | Sequence[str], wait: Wait = _sleep
    ) -> None:
        """Return once InfluxDB has every line (or refused it as invalid).

        `measurement` labels the points-written metric: one name, or one name per line.
        """
        if not lines:
            return
        n = self.lines_per_request
        pending = [range(i, min(i + n, len(lines))) for i in range(0, len(lines), n)]
        loop = asyncio.get_running_loop()
        delay = self.cfg.retry_min_s
        while pending:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(self.pool, self._post, "\n".join(lines[i] for i in part))
                    for part in pending
                ),
                return_exceptions=True,
            )
            failed = []
            for part, result in zip(pending, results, strict=True):
                if result is None:
                    self._count(part, measurement)
                elif self._invalid(result, len(part)):
                    continue
                else:
                    failed.append((part, result))
            if not failed:
                if not self.healthy:
                    log.info("influx_recovered", group=self.group)
                self.healthy = True
                return
            self.healthy = False
            error = failed[0][1]
            self.metrics.write_errors.labels(self.group, "influx", _kind(error)).inc()
            log.warning(
                "influx_write_failed",
                group=self.group,
                requests=len(failed),
                retry_in_s=round(delay, 2),
                error=_describe(error),
            )
            pending = [part for part, _ in failed]
            await wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.cfg.retry_max_s)

    def _count(self, part: range, measurement: str | Sequence[str]) -> None:
        if isinstance(measurement, str):
            self.metrics.points_written.labels(self.group, measurement).inc(len(part))
            return
        counts: dict[str, int] = {}
        for i in part:
            counts[measurement[i]] = counts.get(measurement[i], 0) + 1
        for name, k in counts.items():
            self.metrics.points_written.labels(self.group, name).inc(k)

    def _invalid(self, error: BaseException, points: int) -> bool:
        if isinstance(error, ApiException) and error.status in _INVALID:
            self.metrics.points_rejected.labels(self.group).inc(points)
            log.error(
                "influx_refused_points",
                group=self.group,
                status=error.status,
                points=points,
                error=_describe(error),
            )
            return True
        return False

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # any failure means "not reachable"
            return False

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()


def _kind(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"http_{error.status}"
    if isinstance(error, urllib3.exceptions.HTTPError | OSError):
        return "unreachable"
    return type(error).__name__


def _describe(error: BaseException) -> str:
    if isinstance(error, ApiException):
        body = (error.body or "")[:300] if isinstance(error.body, str) else ""
        return f"HTTP {error.status} {error.reason}: {body}"
    return repr(error)[:300]
