"""The dashboard's errors, all rooted in edge.errors.CitygateError.

CitygateError
 └── DashboardError          the dashboard cannot start or serve as configured
      ├── SettingsError      a configuration value is wrong (names the key and the expected form)
      └── UnknownStandard    (aqi.py) an AQI standard without a table
"""

from __future__ import annotations

from edge.errors import CitygateError


class DashboardError(CitygateError):
    """The dashboard cannot start or serve as configured."""


class SettingsError(DashboardError):
    """A configuration value is wrong; the message names the key, the value and the form."""
