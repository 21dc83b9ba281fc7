"""The dashboard's errors; the whole tree is drawn in edge/errors.py."""

from __future__ import annotations

from edge.errors import CitygateError


class DashboardError(CitygateError):
    """The dashboard cannot start or serve as configured."""


class QueryError(DashboardError):
    """InfluxDB failed to answer a query or take a write."""


class BadQuery(QueryError):
    """A request asked for something the dashboard will not put in a query."""


class UnknownStandard(DashboardError):
    """An AQI standard without a table; the message names the known ones."""
