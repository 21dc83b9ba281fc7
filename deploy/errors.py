"""Errors of the runtime layer; the whole tree is drawn in edge/errors.py."""

from __future__ import annotations

from edge.errors import CitygateError


class StackError(CitygateError):
    """A local service cannot be set up, started or reached; the message names it."""
