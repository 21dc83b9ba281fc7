"""Structured logs for every citygate daemon: one line per event, key=value or JSON."""

from __future__ import annotations

import logging
import sys
import time

import structlog


def configure(json: bool = False, level: str = "INFO") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.processors.KeyValueRenderer(key_order=["ts", "level", "event"])
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", key="ts"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, handlers=[LibraryLogs()], force=True)


class LibraryLogs(logging.Handler):
    """Libraries' stdlib logging (aiokafka, paho) as structured lines, each message template at
    most once per `every_s` with a count of the repeats suppressed meanwhile: a client retrying
    a dead server must not flood the log or wear out an SD card."""

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.log = structlog.get_logger("library")
        self._last: dict[tuple[str, object], float] = {}
        self._suppressed: dict[tuple[str, object], int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.name, record.msg)
        now = time.monotonic()
        if now - self._last.get(key, -self.every_s) < self.every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        self.log.log(
            record.levelno,
            "library_log",
            logger=record.name,
            message=record.getMessage(),
            suppressed=self._suppressed.pop(key, 0),
        )
