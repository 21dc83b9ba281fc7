"""The central package's errors; the whole tree is drawn in edge/errors.py."""

from __future__ import annotations

from edge.errors import CitygateError


class CentralError(CitygateError):
    """A central consumer or detector failed."""


class CorpusError(CentralError):
    """A labelled corpus is missing or malformed; the message names the file and the problem."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class CentralFailed(CentralError):
    """A consumer group died; the process exits non-zero to be restarted."""
