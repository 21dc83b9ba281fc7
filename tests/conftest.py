"""Session fixtures: the real local stack (Mosquitto, Kafka, InfluxDB), started or reused.

With CI=true a service that cannot start fails the run; it never skips.
"""

from __future__ import annotations

import os

import pytest

from deploy.connections import Connections
from deploy.errors import StackError
from deploy.local import Stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack()


@pytest.fixture(scope="session")
def connections(stack: Stack) -> Connections:
    """Connection settings of a running, healthy stack (brought up if it is not)."""
    try:
        return stack.up()
    except StackError as exc:
        detail = f"the local stack could not start: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(detail, pytrace=False)
        pytest.exit(detail, returncode=3)
