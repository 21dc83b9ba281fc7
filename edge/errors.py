"""The one exception tree of citygate. Every CLI turns any of these into one line and exit code 2
(citygate.cli); bad bytes from a device are not errors: decoders return edge.codec.Rejected.

CitygateError                     edge.errors: what failed, on which device, file or key
 ├── EncodeError                  a value cannot be put on the wire
 ├── SchemaNotFound               no packaged JSON Schema of that name
 ├── CatalogError                 a sensor catalog file is wrong
 │    └── UnknownSensorType       a type the catalog does not describe
 ├── SitesError                   a sites file is not the GeoJSON edge.sites writes
 ├── ConfigError                  deploy.settings: a configuration value is wrong (names the key)
 ├── StackError                   deploy.errors: a local service cannot start or answer
 ├── GatewayError                 gateway.errors: the gateway cannot run
 │    ├── Backpressure            gateway.sinks: a sink cannot take records now (retry after)
 │    ├── GatewayStateError       its state file cannot be read or written
 │    ├── GatewayFailed           a task died; the daemon exits non-zero to be restarted
 │    └── JournalError            the journal cannot store or read records
 ├── CentralError                 central.errors: a consumer or detector failed
 │    ├── CorpusError             a labelled corpus cannot be read
 │    └── CentralFailed           a consumer group died
 ├── DashboardError               central.dashboard.errors: the dashboard cannot serve
 │    ├── QueryError              InfluxDB failed to answer or take a write
 │    │    └── BadQuery           a request the dashboard will not put in a query
 │    └── UnknownStandard         an AQI standard without a table
 └── SimError                     firmware_sim.errors: the simulator cannot run as asked
      ├── ScenarioError           a scenario is invalid (names the file and key); also a ConfigError
      └── TransportError          the broker or a pseudo-terminal cannot be reached

tests/edge/test_errors.py checks that this drawing matches the classes.
"""

from __future__ import annotations


class CitygateError(Exception):
    """Base of all citygate errors: the message says what failed and what to do about it."""


class EncodeError(CitygateError, ValueError):
    """A value cannot be put on the wire as given (a programming or configuration error)."""


class SchemaNotFound(CitygateError, LookupError):
    """No packaged schema has that name."""


class CatalogError(CitygateError):
    """A sensor catalog file is missing, malformed or inconsistent."""


class UnknownSensorType(CatalogError, KeyError):
    """A sensor type the catalog does not describe."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class SitesError(CitygateError, ValueError):
    """A sites file is not the GeoJSON this module writes; the message names the feature."""
