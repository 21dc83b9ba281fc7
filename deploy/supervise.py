"""How both daemons run their long-lived tasks: one asyncio.TaskGroup, woken by SIGTERM/SIGINT or
by the first task that ends; the daemon then shuts down in its own order, and leaving the group
awaits every task, so none outlives it. A task that fails is logged once and makes the process
exit non-zero for the service manager to restart it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

import structlog

from edge.errors import CitygateError

log = structlog.get_logger("supervise")


class Supervisor:
    def __init__(self, daemon: str) -> None:
        self.daemon = daemon
        self.failures: list[tuple[str, BaseException]] = []
        self._ended = asyncio.Event()
        self._group = asyncio.TaskGroup()

    async def __aenter__(self) -> Supervisor:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._group.__aexit__(kind, exc, tb)

    def start(self, name: str, work: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        """Run `work` in the group; its failure ends `wait`, never the other tasks."""
        return self._group.create_task(self._guarded(name, work), name=name)

    async def _guarded(self, name: str, work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures.append((name, exc))
            log.error("task_failed", daemon=self.daemon, task=name, error=repr(exc))
        self._ended.set()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set or a task ended (failed or returned)."""
        ended = asyncio.create_task(self._ended.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([ended, stopped], return_when=asyncio.FIRST_COMPLETED)
        for waiter in (ended, stopped):
            waiter.cancel()

    def raise_if_failed(self, error: type[CitygateError]) -> None:
        """After shutdown: the first failure as `error`, so the process exits non-zero."""
        if self.failures:
            name, exc = self.failures[0]
            raise error(f"{self.daemon} task {name} failed: {exc!r}") from exc


async def cancel(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and wait until they have ended."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """asyncio.run(main(stop)), where SIGTERM and SIGINT set `stop`."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
