"""citygate's one configuration mechanism: a YAML file, then CITYGATE_ environment variables
(`CITYGATE_<SECTION>__<KEY>`), validated by a pydantic schema. Every daemon, the dashboard and
the stack connections load through `load`; every problem is one line of a ConfigError naming the
key, the value and the expected form. Secrets are never shown.

The variables are read here (`from_environment`, some forty lines) rather than by
pydantic-settings: that package and what it imports (dotenv, argparse, its cloud secret
providers, importlib.metadata) cost the gateway about 8 MB of its 50 MB memory budget, for what
is a walk over the schema (bench/results/gateway.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge.errors import CitygateError

ENV_PREFIX = "CITYGATE_"
ENV_NESTED_DELIMITER = "__"
# A secret's sibling key naming a file that holds it (mqtt.password_file for mqtt.password).
SECRET_FILE_SUFFIX = "_file"
HIDDEN = "<hidden>"

S = TypeVar("S", bound="Settings")


class ConfigError(CitygateError):
    """A configuration file or variable is invalid; one line per problem names key and value."""

    def __init__(self, message: str, *, source: str = "", problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.source = source
        self.problems = problems


class Section(BaseModel):
    """A section of a schema: unknown keys are errors, values are frozen once loaded.

    A `SecretStr` field `x` is read from the file named by its sibling `x_file` when `x` itself
    is not given (the variable CITYGATE_..._X, or the file, never the YAML).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in _secret_fields(cls):
            file = data.get(name + SECRET_FILE_SUFFIX)
            if data.get(name) is None and file:
                # Unreadable: the file field's own check names the file and the reason.
                with contextlib.suppress(OSError):
                    data = {**data, name: Path(file).read_text().strip()}
        return data


def readable_file(path: Path | None) -> Path | None:
    """Field check for a secret's file: it must be readable when the daemon starts."""
    if path is not None:
        try:
            path.read_bytes()
        except OSError as exc:
            raise ValueError(
                f"expected a readable file holding the secret ({exc.strerror})"
            ) from exc
    return path


class Settings(BaseModel):
    """The root of a schema: CITYGATE_KAFKA__BOOTSTRAP sets kafka.bootstrap, and so on (`load`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Unparsed(Exception):
    def __init__(self, key: str, variable: str) -> None:
        super().__init__(key)
        self.key, self.variable = key, variable


def from_environment(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """The CITYGATE_ variables of `model`'s keys as a nested mapping, names in any case.

    CITYGATE_A__B__C sets a.b.c. A list, a mapping or a whole section is written as JSON
    (CITYGATE_MQTT__TOPICS='["city/#"]'); every other value stays the string it is, for the
    schema to convert. A variable whose first level is not a key of `model` belongs to another
    schema and is left alone; a wrong key below it is the schema's error. Shorter names first,
    so CITYGATE_MQTT='{...}' and CITYGATE_MQTT__PORT together mean the port over the section.
    """
    found = []
    for name, text in environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        path = upper[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        if path[0] in model.model_fields:
            found.append((path, name, text))
    out: dict[str, Any] = {}
    for path, name, raw in sorted(found, key=lambda entry: len(entry[0])):
        value: Any = raw
        if _is_complex(_field_at(model, path)):
            try:
                value = json.loads(raw)
            except ValueError:
                raise _Unparsed(".".join(path), name) from None
        node = out
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        last, before = path[-1], node.get(path[-1])
        if isinstance(before, dict) and isinstance(value, Mapping):
            value = merge(before, value)
        node[last] = value
    return out


def _field_at(model: type[BaseModel], path: list[str]) -> FieldInfo | None:
    section = _section_model(model, path[:-1])
    return section.model_fields.get(path[-1]) if section is not None else None


def _is_complex(f: FieldInfo | None) -> bool:
    """A field whose variable is JSON: a section, a list or a mapping (also `... | None`)."""
    if f is None:
        return False
    args = typing.get_args(f.annotation) if _is_union(f.annotation) else (f.annotation,)
    return any(
        (isinstance(a, type) and issubclass(a, BaseModel))
        or typing.get_origin(a) in (tuple, list, dict, set, frozenset)
        or a in (tuple, list, dict, set, frozenset)
        for a in args
    )


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def env_name(*key: str) -> str:
    """The variable that sets a key: env_name("kafka", "bootstrap") == "CITYGATE_KAFKA__BOOTSTRAP"."""
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(key).upper()


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} config {path}: {exc.strerror}", source=str(path)
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}",
            source=str(path),
        )
    return data


def load(
    model: type[S],
    path: Path | None,
    what: str,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    shared: type[BaseModel] | None = None,
    secrets_in_file: bool = False,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data,
) -> S:
    """The YAML file (if any), then CITYGATE_ variables, then `overrides` (CLI options).

    `prepare` may reshape the file's mapping. Variables of sections `shared` with another
    schema (the stack connections) that `model` does not have are left to that schema.
    """
    source = str(path) if path is not None else what
    data = prepare(read_yaml(path, what)) if path is not None else {}
    in_file = [
        f"{key} = {HIDDEN}: a secret is never written in the file; set "
        f"{env_name(*key.split('.'))} or {key}{SECRET_FILE_SUFFIX}"
        for key in ([] if secrets_in_file else _secret_keys(model, data))
    ]
    if in_file:
        raise _error(source, in_file)
    environ = os.environ if environ is None else environ
    misnamed = _misnamed(model, environ)
    if misnamed:
        raise _error(source, misnamed)
    try:
        from_env = from_environment(model, environ)
    except _Unparsed as exc:
        raise _error(source, [_unparsed(exc)]) from exc
    if shared is not None:
        from_env = _without_foreign(from_env, model, shared)
    values = merge(merge(data, from_env), dict(overrides or {}))
    return validate(model, values, source, environ)


def _misnamed(model: type[BaseModel], environ: Mapping[str, str]) -> list[str]:
    """Variables in a style citygate no longer reads, which would otherwise be ignored."""
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX + "_"):
            right = ENV_PREFIX + upper[len(ENV_PREFIX) + 1 :]
            problems.append(f"{name}: the prefix is CITYGATE_ with one underscore: {right}")
            continue
        if not upper.startswith(ENV_PREFIX) or ENV_NESTED_DELIMITER in upper[len(ENV_PREFIX) :]:
            continue
        rest = upper[len(ENV_PREFIX) :].lower()
        for section in model.model_fields:
            inner = _section_model(model, [section])
            key = rest[len(section) + 1 :]
            if inner is not None and rest.startswith(section + "_") and key in inner.model_fields:
                problems.append(
                    f"{name}: not a citygate variable; {section}.{key} is {env_name(section, key)}"
                )
    return problems


def _unparsed(exc: _Unparsed) -> str:
    return (
        f"{exc.key} = {HIDDEN} (from {exc.variable}): not valid JSON; "
        "lists and mappings are written as JSON, e.g. '[\"city/#\"]'"
    )


def merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, section by section."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def validate(
    model: type[BaseModel],
    data: dict[str, Any],
    source: str,
    environ: Mapping[str, str] | None = None,
    error: Callable[[str, list[str]], CitygateError] | None = None,
) -> Any:
    """Validate `data`; each problem becomes one line naming key, value and expected form."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        variables = {name.upper() for name in (environ or {})}
        secrets = set(_secret_names(model))
        problems = [_problem(model, err, variables, secrets) for err in exc.errors()]
        raise (error or _error)(source, problems) from exc


def _error(source: str, problems: list[str]) -> ConfigError:
    message = f"{source}: invalid configuration:\n  " + "\n  ".join(problems)
    return ConfigError(message, source=source, problems=tuple(problems))


def _problem(model: type[BaseModel], err: Any, variables: set[str], secrets: set[str]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(top level)"
    value = _shown(err.get("input"), secrets, hide=bool(loc) and loc[-1] in secrets)
    names = [p for p in loc if not p.isdigit()]
    origin = next(
        (
            f" (from {v})"
            for n in range(len(names), 0, -1)
            if (v := env_name(*names[:n])) in variables
        ),
        "",
    )
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        message = "not a known key" + (f"; expected one of {', '.join(known)}" if known else "")
    return f"{key} = {value}{origin}: {message}"


def _shown(value: Any, secrets: set[str], hide: bool) -> str:
    if hide:
        return HIDDEN
    if isinstance(value, dict):
        value = {k: HIDDEN if k in secrets else v for k, v in value.items()}
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- walking a schema (secrets, known keys, the generated reference) ----------------------------


@dataclass(frozen=True)
class Key:
    path: tuple[str, ...]
    field: FieldInfo
    owner: type[BaseModel]  # the section that declares it
    section: bool  # a nested section, whose keys follow
    in_list: bool = False  # a key of each item of a list (serial ports): no variable of its own

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The schema classes an annotation holds: `X`, `X | None`, `tuple[X, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _secret_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, f in model.model_fields.items() if _is_secret(f.annotation)]


def _secret_names(model: type[BaseModel]) -> Iterator[str]:
    for key in keys(model):
        if _is_secret(key.field.annotation):
            yield key.path[-1]


def keys(
    model: type[BaseModel], prefix: tuple[str, ...] = (), in_list: bool = False
) -> Iterator[Key]:
    """Every key of a schema, depth first, sections before their keys."""
    for name, f in model.model_fields.items():
        inner = _models_in(f.annotation)
        yield Key((*prefix, name), f, model, bool(inner), in_list)
        listed = in_list or typing.get_origin(without_none(f.annotation)) in (tuple, list)
        for sub in inner[:1]:
            yield from keys(sub, (*prefix, name + ("[]" if listed and not in_list else "")), listed)


def without_none(annotation: Any) -> Any:
    if _is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _section_model(model: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    for part in path:
        if part.isdigit():
            continue
        f = model.model_fields.get(part)
        inner = _models_in(f.annotation) if f is not None else []
        if not inner:
            return None
        model = inner[0]
    return model


def _known_keys(model: type[BaseModel], path: list[str]) -> list[str]:
    section = _section_model(model, path)
    return list(section.model_fields) if section is not None else []


def _secret_keys(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    found = []
    for key in keys(model):
        node: Any = data
        for part in key.path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and _is_secret(key.field.annotation):
            found.append(key.dotted)
    return found


def _without_foreign(
    values: dict[str, Any], model: type[BaseModel], shared: type[BaseModel]
) -> dict[str, Any]:
    out = dict(values)
    for name, section in values.items():
        mine, theirs = _section_model(model, [name]), _section_model(shared, [name])
        if isinstance(section, dict) and mine is not None and theirs is not None:
            out[name] = {
                k: v
                for k, v in section.items()
                if k in mine.model_fields or k not in theirs.model_fields
            }
    return out


def default_of(f: FieldInfo) -> Any:
    """A field's default as the reference shows it (None when required)."""
    if f.default is not PydanticUndefined:
        return f.default
    if f.default_factory is not None:
        return "(computed)"
    return None
