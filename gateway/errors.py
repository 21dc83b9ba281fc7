"""The gateway's errors; the whole tree is drawn in edge/errors.py."""

from __future__ import annotations

from pathlib import Path

from edge.errors import CitygateError


class GatewayError(CitygateError):
    """The gateway cannot run as configured."""


class GatewayStateError(GatewayError):
    """The state file cannot be read or written; the gateway must not guess what it held."""


class GatewayFailed(GatewayError):
    """A gateway task died; the daemon stopped cleanly and exits non-zero to be restarted."""


class JournalError(GatewayError):
    """The journal cannot store or read records; the message names the file and the remedy."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path
