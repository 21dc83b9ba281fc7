"""The one retry policy: exponential from min_s to max_s with at most min_s of jitter."""

from __future__ import annotations

import asyncio

import pytest
from tenacity import RetryCallState

from deploy.retry import async_retrying


def test_waits_double_from_min_to_max_with_bounded_jitter() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> int:
        attempts = 0
        async for attempt in async_retrying(0.5, 4.0, OSError, sleep=sleep):
            with attempt:
                attempts += 1
                if attempts < 8:
                    raise OSError("down")
        return attempts

    assert asyncio.run(go()) == 8
    for k, wait in enumerate(waits):
        base = min(0.5 * 2**k, 4.0)
        assert base <= wait <= min(base + 0.5, 4.0), waits


def test_other_errors_are_not_retried_and_the_callback_sees_each_wait() -> None:
    seen: list[float] = []

    def before_sleep(state: RetryCallState) -> None:
        assert state.next_action is not None
        seen.append(state.next_action.sleep)

    async def go() -> None:
        tries = 0

        async def sleep(_s: float) -> None:
            return None

        async for attempt in async_retrying(
            0.1, 1.0, OSError, sleep=sleep, before_sleep=before_sleep
        ):
            with attempt:
                tries += 1
                raise OSError("down") if tries == 1 else ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        asyncio.run(go())
    assert len(seen) == 1
