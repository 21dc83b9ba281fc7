"""The root of every citygate exception tree.

Bad bytes from a device are not errors: decoders return edge.codec.Rejected and never raise.

CitygateError
 ├── edge.catalog.CatalogError                 a sensor catalog file is wrong
 │    └── UnknownSensorType                    a type the catalog does not describe
 ├── edge.codec.EncodeError                    a value cannot be put on the wire
 ├── edge.record_schemas.SchemaNotFound        no packaged JSON Schema of that name
 ├── deploy.local.StackError                   a local service cannot start or answer
 ├── deploy.settings.ConfigError               a configuration file or variable is wrong
 │    └── firmware_sim.ScenarioError           (also a SimError) a scenario file is wrong
 ├── gateway errors (JournalError, ...)        the daemon's own failures
 └── central errors                            consumers and detectors
"""

from __future__ import annotations


class CitygateError(Exception):
    """Base of all citygate errors: the message says what failed and what to do about it."""
