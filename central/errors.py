"""The central package's errors, all rooted in edge.errors.CitygateError.

CitygateError
 └── CentralError
      └── CorpusError        a benchmark corpus (data directory or labels file) cannot be read
"""

from __future__ import annotations

from edge.errors import CitygateError


class CentralError(CitygateError):
    """A central consumer or detector failed."""


class CorpusError(CentralError):
    """A labelled corpus is missing or malformed; the message names the file and the problem."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
