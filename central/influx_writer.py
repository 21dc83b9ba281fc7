"""Writes line protocol to InfluxDB and does not give up: a batch is acknowledged or retried.

The synchronous write API runs in a thread pool, a few requests at a time. A batch arrives as
chunks (one request each) that may be built lazily: each is posted as soon as it is built, so the
caller builds the next chunk while InfluxDB ingests the previous ones. Transient failures
(connection refused, timeouts, 5xx, 429, 401/403 while a token is being fixed) are retried with
exponential backoff through a `wait` callable supplied by the caller, so a Kafka consumer can keep
its partitions paused while it waits. Requests InfluxDB refuses as invalid (400, 413, 422) cannot
succeed by retrying: they are logged and counted, and the batch moves on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog
import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from tenacity import RetryCallState

from central.config import Influx
from central.metrics import CentralMetrics
from deploy.retry import async_retrying

log = structlog.get_logger("central.influx")

Wait = Callable[[float], Awaitable[None]]


class _Failed(Exception):
    """Chunks InfluxDB did not take yet, and the first error: the attempt is retried."""

    def __init__(self, chunks: list[Chunk], first: BaseException) -> None:
        super().__init__(repr(first))
        self.chunks = chunks
        self.first = first


_INVALID = frozenset({400, 413, 422})


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One request: its lines and how many points of each measurement they hold (for metrics)."""

    lines: Sequence[str]
    points: Mapping[str, int]


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
            url=cfg.url, token=cfg.token_value(), org=cfg.org, timeout=cfg.timeout_ms, retries=False
        )
        self.api = self.client.write_api(write_options=SYNCHRONOUS)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"influx-{group}")
        self.healthy = True

    def _post(self, lines: Sequence[str]) -> None:
        self.api.write(bucket=self.cfg.bucket, org=self.cfg.org, record="\n".join(lines))

    async def write(
        self, lines: Sequence[str], measurement: str | Sequence[str], wait: Wait = _sleep
    ) -> None:
        """Return once InfluxDB has every line (or refused it as invalid).

        `measurement` labels the points-written metric: one name, or one name per line.
        """
        n = self.lines_per_request
        chunks = (
            Chunk(lines[i : i + n], _points(measurement, i, min(i + n, len(lines))))
            for i in range(0, len(lines), n)
        )
        await self.write_chunks(chunks, wait)

    async def write_chunks(self, chunks: Iterable[Chunk], wait: Wait = _sleep) -> None:
        """Return once InfluxDB has every chunk (or refused it as invalid).

        Each chunk is handed to the thread pool as soon as `chunks` yields it; the pool's
        `concurrency` threads bound the requests in flight. Failed chunks are retried together,
        with backoff through `wait`, until InfluxDB takes them.
        """
        loop = asyncio.get_running_loop()
        pending = [
            (chunk, loop.run_in_executor(self.pool, self._post, chunk.lines))
            for chunk in chunks
            if chunk.lines
        ]

        def failed(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            assert isinstance(error, _Failed)
            self.healthy = False
            self.metrics.write_errors.labels(self.group, "influx", _kind(error.first)).inc()
            log.warning(
                "influx_write_failed",
                group=self.group,
                requests=len(error.chunks),
                retry_in_s=round(state.next_action.sleep if state.next_action else 0.0, 2),
                error=_describe(error.first),
            )

        retry = async_retrying(
            self.cfg.retry_min_s, self.cfg.retry_max_s, _Failed, sleep=wait, before_sleep=failed
        )
        left: list[Chunk] = []  # what the last attempt did not get in, posted after the wait
        async for attempt in retry:
            with attempt:
                if left:
                    pending = [
                        (chunk, loop.run_in_executor(self.pool, self._post, chunk.lines))
                        for chunk in left
                    ]
                try:
                    await self._settle(pending)
                except _Failed as exc:
                    left = exc.chunks
                    raise
        if not self.healthy:
            log.info("influx_recovered", group=self.group)
        self.healthy = True

    async def _settle(self, pending: list[tuple[Chunk, asyncio.Future[None]]]) -> None:
        """Count what InfluxDB took, drop what it refused as invalid, raise for the rest."""
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        failed = []
        for (chunk, _), result in zip(pending, results, strict=True):
            if result is None:
                self._count(chunk)
            elif not self._invalid(result, len(chunk.lines)):
                failed.append((chunk, result))
        if failed:
            raise _Failed([chunk for chunk, _ in failed], failed[0][1])

    def _count(self, chunk: Chunk) -> None:
        for name, k in chunk.points.items():
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


def _points(measurement: str | Sequence[str], start: int, stop: int) -> dict[str, int]:
    """Points per measurement among lines start..stop-1."""
    if isinstance(measurement, str):
        return {measurement: stop - start}
    counts: dict[str, int] = {}
    for i in range(start, stop):
        counts[measurement[i]] = counts.get(measurement[i], 0) + 1
    return counts


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
