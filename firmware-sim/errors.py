"""The simulator's exceptions; the whole tree is drawn in edge/errors.py."""

from __future__ import annotations

from deploy.settings import ConfigError
from edge.errors import CitygateError


class SimError(CitygateError):
    """The simulator could not run as asked."""


class ScenarioError(SimError, ConfigError):
    """A scenario is invalid; the message names the file, the key, the value and the expected form."""

    def __init__(self, message: str, *, path: str = "", key: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class TransportError(SimError):
    """Messages cannot leave the simulator: the broker refused or a pty cannot be opened."""

    def __init__(self, message: str, *, target: str = "") -> None:
        super().__init__(message)
        self.target = target
