"""The configuration reference (docs/configuration.md), rendered from the settings schemas.

Every key with its CITYGATE_ variable, type, default and limits; the comment beside a field in
its schema's source is its description. docs/generate_configuration.py names the schemas.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from deploy import settings
from deploy.settings import Key, Secret, Section


@dataclass(frozen=True)
class Schema:
    title: str
    model: type[Section]
    about: str  # where it is used and which file it reads


HEADER = """\
# Configuration reference

Generated from the settings schemas by `make docs` (`python docs/generate_configuration.py`);
a unit test fails when this file is stale. Do not edit it by hand.

Every citygate process loads its settings the same way (`deploy/settings.py`):

1. the YAML file it is given (`--config`), if any;
2. then environment variables: prefix `CITYGATE_`, sections joined by `__`, any case:
   `kafka.bootstrap` is `CITYGATE_KAFKA__BOOTSTRAP`, `dashboard.port` is
   `CITYGATE_DASHBOARD__PORT`, a top-level key such as `heartbeat_s` is `CITYGATE_HEARTBEAT_S`.
   Lists and mappings are written as JSON (`CITYGATE_MQTT__TOPICS='["city/#"]'`). A variable
   in an older style (`CITYGATE__KAFKA__BOOTSTRAP`, `CITYGATE_KAFKA_BOOTSTRAP`) is an error that
   names its new name, never silently ignored;
3. then command-line options, where a command has them.

The connection keys (`mqtt.host`, `mqtt.port`, `kafka.bootstrap`, `influx.*`) are one set of
variables: `CITYGATE_KAFKA__BOOTSTRAP` points the gateway, central, the dashboard and the tools at
the same Kafka. What a gateway or central file leaves empty comes from the stack connections
(`<run dir>/connections.json`, written by `citygate stack up`, then the same variables).

Secrets (`secret` below) are never written in a YAML file: each comes from its variable or from
the file its `..._file` key names (first line, trimmed). They never appear in logs, `repr` or
errors. A wrong value stops the process at start with a `ConfigError`, one line per problem
naming the key, the value (or the variable it came from) and the expected form:

```
deploy/config/gateway.yaml: invalid configuration:
  journal.policy = 'sometimes': expected one of 'block', 'drop_oldest'
  kafka.linger_ms = 'soon' (from CITYGATE_KAFKA__LINGER_MS): Expected `int`, got `str`
```
"""


def render(schemas: Iterable[Schema]) -> str:
    parts = [HEADER]
    for schema in schemas:
        parts.append(f"\n## {schema.title}\n\n{schema.about}\n\n")
        parts.append("| key | variable | type | default | notes |\n|---|---|---|---|---|\n")
        for key in settings.keys(schema.model):
            parts.append(_row(key) + "\n")
    return "".join(parts)


def _row(key: Key) -> str:
    variable = "" if key.in_list else f"`{settings.env_name(*key.path)}`"
    if key.section:
        kind = "list of sections" if _listed(key) else "section"
        if type(None) in typing.get_args(settings.unannotated(key.field.type)):
            kind += ", optional"
        variable = f"{variable} (JSON)" if _listed(key) else ""
        return f"| **`{key.dotted}`** | {variable} | {kind} | | {_notes(key)} |"
    return (
        f"| `{key.dotted}` | {variable} | {_type(key.field.type)} | "
        f"{_default(key)} | {_notes(key)} |"
    )


def _listed(key: Key) -> bool:
    origin = typing.get_origin(settings.without_none(key.field.type))
    return origin in (tuple, list)


def _type(annotation: Any) -> str:
    optional = type(None) in typing.get_args(settings.unannotated(annotation))
    inner = settings.without_none(annotation)
    origin = typing.get_origin(inner)
    if inner is Secret:
        text = "secret"
    elif origin is typing.Literal:
        text = "one of " + ", ".join(f"`{v}`" for v in typing.get_args(inner))
    elif origin in (tuple, list):
        items = [a for a in typing.get_args(inner) if a is not Ellipsis]
        text = "list of " + (_type(items[0]) if items else "values")
    elif isinstance(inner, type):
        text = {"str": "text", "float": "number", "bool": "true/false", "int": "integer"}.get(
            inner.__name__, "path" if issubclass(inner, Path) else inner.__name__
        )
    else:
        text = str(inner).replace("typing.", "")
    return text + (", optional" if optional else "")


def _default(key: Key) -> str:
    f = key.field
    if f.required:
        return "required"
    value = settings.default_of(f)
    if value is None:
        return ""
    if isinstance(value, Secret):
        return ""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Path):
        value = str(value)
    if value == "(computed)":
        return "(computed)"
    return f"`{value!r}`" if not isinstance(value, str) else f"`{value}`" if value else '`""`'


def _metas(annotation: Any) -> list[msgspec.Meta]:
    """The limits on a key's value: `Annotated[int, Meta(ge=1)]`, also inside `... | None`."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return [m for m in extra if isinstance(m, msgspec.Meta)] + _metas(base)
    if settings.is_union(annotation):
        return [m for arg in typing.get_args(annotation) for m in _metas(arg)]
    return []


def _limits(key: Key) -> list[str]:
    out = []
    for m in _metas(key.field.type):
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if (limit := getattr(m, attr)) is not None:
                # 0 and 0.0 are one limit (typing caches equal Annotated types as one).
                out.append(f"{sign} {int(limit) if float(limit).is_integer() else limit}")
        if m.pattern is not None:
            out.append(f"matches `{m.pattern}`")
    return out


def _notes(key: Key) -> str:
    notes = _limits(key)
    comment = _comments(key.owner).get(key.path[-1])
    if comment:
        notes.append(comment)
    return "; ".join(notes).replace("|", "\\|").replace("<", "\\<")


@cache
def _comments(model: type[Section]) -> dict[str, str]:
    """`name: type = default  # comment` lines of a schema class: the comment describes `name`."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    found, above = {}, []
    for line in source.splitlines():
        if m := re.match(r"^    #\s?(.*)$", line):
            above.append(m.group(1).strip())
        elif m := re.match(r"^    (\w+): ([^#]+)(?:#\s*(.+))?$", line):
            found[m.group(1)] = " ".join([*above, m.group(3) or ""]).strip()
            above = []
        else:
            above = []
    return {name: text for name, text in found.items() if text}
