"""The JSON Schemas (draft 2020-12) of the records on citygate's Kafka topics, by versioned name.

The schemas are the contract with anyone else reading the topics; tests check that the records
citygate encodes satisfy them.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

from edge import topics
from edge.errors import SchemaNotFound

# Versioned schema name of the records on each topic.
TOPIC_SCHEMAS: Final[dict[str, str]] = {
    **{topics.reading_topic(t): "reading.v1" for t in topics.SENSOR_TYPES},
    topics.DEADLETTER: "deadletter.v1",
    topics.GATEWAY_STATUS: "gateway-status.v1",
    topics.ALERTS: "alert.v1",
}


def names() -> list[str]:
    """The names of all packaged schemas, e.g. "reading.v1"."""
    folder = resources.files("edge") / "schemas"
    return sorted(
        f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json")
    )


def load_schema(name: str) -> dict[str, Any]:
    """The schema called `name` ("reading.v1"), as a dict."""
    file = resources.files("edge") / "schemas" / f"{name}.json"
    if not file.is_file():
        raise SchemaNotFound(f"no record schema {name!r}; known: {', '.join(names())}")
    schema: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return schema
