"""Library (stdlib) logging becomes rate-limited structured lines."""

from __future__ import annotations

import logging

import pytest

from deploy import logs


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
