"""Supervision shared by the daemons: the first task to fail ends the wait without stopping the
others, the daemon shuts down in its order, and no task outlives the group."""

from __future__ import annotations

import asyncio

import pytest

from deploy.supervise import Supervisor, cancel
from edge.errors import CitygateError


class DaemonFailed(CitygateError):
    pass


def test_a_failing_task_ends_the_wait_and_is_raised_after_shutdown() -> None:
    order: list[str] = []

    async def steady() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            order.append("steady cancelled")

    async def broken() -> None:
        raise OSError("disk gone")

    async def go() -> Supervisor:
        async with Supervisor("daemon") as tasks:
            long = tasks.start("steady", steady())
            tasks.start("broken", broken())
            await tasks.wait(asyncio.Event())
            order.append("woken")
            assert not long.done()  # still running: shutdown decides when it stops
            await cancel(long)
        return tasks

    tasks = asyncio.run(go())
    assert order == ["woken", "steady cancelled"]
    with pytest.raises(DaemonFailed, match="broken") as caught:
        tasks.raise_if_failed(DaemonFailed)
    assert isinstance(caught.value.__cause__, OSError)


def test_the_stop_event_ends_the_wait_and_nothing_is_raised() -> None:
    async def go() -> tuple[Supervisor, asyncio.Task[None]]:
        stop = asyncio.Event()
        async with Supervisor("daemon") as tasks:
            task = tasks.start("steady", asyncio.Event().wait())
            asyncio.get_running_loop().call_soon(stop.set)
            await tasks.wait(stop)
            await cancel(task)
        return tasks, task

    tasks, task = asyncio.run(go())
    assert task.cancelled()
    tasks.raise_if_failed(DaemonFailed)  # no failure: returns
