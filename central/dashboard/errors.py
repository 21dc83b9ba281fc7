"""The dashboard's errors, all rooted in edge.errors.CitygateError.

CitygateError
 ├── deploy.settings.ConfigError  a configuration value is wrong (names the key and the form)
 └── DashboardError          the dashboard cannot start or serve as configured
      └── UnknownStandard    (aqi.py) an AQI standard without a table
"""

from __future__ import annotations

from edge.errors import CitygateError


class DashboardError(CitygateError):
    """The dashboard cannot start or serve as configured."""
