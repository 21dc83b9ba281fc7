"""The one retry policy of citygate (tenacity): wait `min_s`, doubling to `max_s`, with jitter, for
as long as it takes. Every loop that waits for a server or a device to come back uses it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

Errors = type[BaseException] | tuple[type[BaseException], ...]


def backoff(min_s: float, max_s: float) -> wait_base:
    """min_s, 2·min_s, 4·min_s ... up to max_s, each plus up to min_s of jitter so that many
    clients that lost the same server do not come back in step."""
    return wait_exponential_jitter(multiplier=min_s, max=max_s, jitter=min_s)


def delay(min_s: float, max_s: float, attempt: int) -> float:
    """The wait `backoff` gives before retry number `attempt` (1, 2, ...), for loops that
    schedule their retries themselves (a sink's Backpressure says when)."""
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = attempt
    return float(backoff(min_s, max_s)(state))


def async_retrying(
    min_s: float,
    max_s: float,
    on: Errors,
    *,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
    before_sleep: Callable[[RetryCallState], Any] | None = None,
) -> AsyncRetrying:
    """Retry while the attempt raises one of `on`; `sleep` may be the caller's own wait."""
    options: dict[str, Any] = {}
    if sleep is not None:
        options["sleep"] = sleep
    return AsyncRetrying(
        wait=backoff(min_s, max_s),
        retry=retry_if_exception_type(on),
        before_sleep=before_sleep,
        reraise=True,
        **options,
    )


def retrying(
    min_s: float,
    max_s: float,
    on: Errors,
    *,
    sleep: Callable[[float], Any],
    stop: stop_base = stop_never,
    before_sleep: Callable[[RetryCallState], Any] | None = None,
) -> Retrying:
    """The same for a thread; `sleep` is usually a stop Event's wait, `stop` when to give up."""
    return Retrying(
        wait=backoff(min_s, max_s),
        retry=retry_if_exception_type(on),
        sleep=sleep,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )
