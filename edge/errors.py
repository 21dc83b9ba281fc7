"""The root of every citygate exception tree.

CitygateError
 ├── edge.codec errors (DecodeError)           bad bytes from a device
 ├── deploy.local.StackError                   a local service cannot start or answer
 ├── gateway errors (ConfigError, JournalError) the daemon's own failures
 └── central errors                            consumers and detectors
"""

from __future__ import annotations


class CitygateError(Exception):
    """Base of all citygate errors: the message says what failed and what to do about it."""
