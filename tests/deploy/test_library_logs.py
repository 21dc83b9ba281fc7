"""Library (stdlib) logging becomes rate-limited structured lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from deploy import logs


@pytest.fixture
def configured() -> Iterator[None]:
    """`logs.configure` for one test: it binds the process's loggers to this test's captured
    stderr, which is closed after it, so later tests get the defaults back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("configured")
def test_repeats_are_suppressed_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure()
    lib = logging.getLogger("aiokafka.client")
    for i in range(1000):
        lib.error("Unable connect to node with id %s", i)
    lines = [x for x in capsys.readouterr().err.splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("ts=") and "logger='aiokafka.client'" in lines[0]
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logs.LibraryLogs)
    handler.every_s = 0  # the window has passed: the next line reports what was held back
    lib.error("Unable connect to node with id %s", 0)
    assert "suppressed=999" in capsys.readouterr().err
