"""citygate's one configuration mechanism: a YAML file, then CITYGATE_ environment variables
(`CITYGATE_<SECTION>__<KEY>`), validated against a schema of msgspec Structs. Every daemon, the
dashboard, the simulator's scenarios and the stack connections load through `load` or
`validate`; every problem is one line of a ConfigError naming the key, the value and the expected
form. Secrets are never shown.

A schema is a tree of `Section`s whose fields carry their type and limits
(`Annotated[int, Meta(ge=1)]`), plus two markers of our own: `Check(f)`, a field's own check
after its type, and `Before(f)`, a reshaping of the raw value before it (a duration written
'5m'). A section's checks across its fields are its `__post_init__`, raising ValueError.
`validate` walks the schema key by key, so that it reports every problem at once, each at its
key; msgspec converts each value (a string from a variable to the integer a key wants, ...).

msgspec rather than pydantic: the gateway decodes every reading with msgspec already, and
pydantic with its schemas cost the gateway about 10 MB of its 50 MB memory budget
(bench/results/gateway.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml
from msgspec import NODEFAULT
from msgspec.structs import FieldInfo

from edge.errors import CitygateError

ENV_PREFIX = "CITYGATE_"
ENV_NESTED_DELIMITER = "__"
# A secret's sibling key naming a file that holds it (mqtt.password_file for mqtt.password).
SECRET_FILE_SUFFIX = "_file"
HIDDEN = "<hidden>"

S = TypeVar("S", bound="Settings")
T = TypeVar("T", bound="Section")


class ConfigError(CitygateError):
    """A configuration file or variable is invalid; one line per problem names key and value."""

    def __init__(self, message: str, *, source: str = "", problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.source = source
        self.problems = problems


class Secret:
    """A secret value (a password, a token): never shown by repr, str or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({HIDDEN})"

    def __str__(self) -> str:
        return HIDDEN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Check:
    """A field's own check, after its type: returns the value, or raises ValueError saying what
    was expected (`Annotated[Path | None, Check(readable_file)]`)."""

    check: Callable[[Any], Any]


@dataclass(frozen=True)
class Before:
    """A reshaping of a field's raw value before its type is checked ('5m' -> 300.0)."""

    reshape: Callable[[Any], Any]


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A section of a schema: unknown keys are errors, values are frozen once loaded.

    A `Secret` field `x` is read from the file named by its sibling `x_file` when `x` itself
    is not given (the variable CITYGATE_..._X, or the file, never the YAML).
    """

    def replace(self: T, **changes: Any) -> T:
        """A copy with `changes` (not validated: for values already checked)."""
        return msgspec.structs.replace(self, **changes)


class Settings(Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The root of a schema: CITYGATE_KAFKA__BOOTSTRAP sets kafka.bootstrap, and so on (`load`)."""


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


class _Unparsed(Exception):
    def __init__(self, key: str, variable: str) -> None:
        super().__init__(key)
        self.key, self.variable = key, variable


def from_environment(model: type[Section], environ: Mapping[str, str]) -> dict[str, Any]:
    """The CITYGATE_ variables of `model`'s keys as a nested mapping, names in any case.

    CITYGATE_A__B__C sets a.b.c. A list, a mapping or a whole section is written as JSON
    (CITYGATE_MQTT__TOPICS='["city/#"]'); every other value stays the string it is, for the
    schema to convert. A variable whose first level is not a key of `model` belongs to another
    schema and is left alone; a wrong key below it is the schema's error. Shorter names first,
    so CITYGATE_MQTT='{...}' and CITYGATE_MQTT__PORT together mean the port over the section.
    """
    found = []
    names = field_names(model)
    for name, text in environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        path = upper[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        if path[0] in names:
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


@cache
def fields(model: type[Section]) -> dict[str, FieldInfo]:
    """A schema class's fields by name, in their order (resolved once per class: msgspec
    resolves the annotations at each call)."""
    return {f.name: f for f in msgspec.structs.fields(model)}


def field_names(model: type[Section]) -> list[str]:
    return list(fields(model))


def _field_at(model: type[Section], path: list[str]) -> FieldInfo | None:
    section = _section_model(model, path[:-1])
    return fields(section).get(path[-1]) if section is not None else None


def _is_complex(f: FieldInfo | None) -> bool:
    """A field whose variable is JSON: a section, a list or a mapping (also `... | None`)."""
    if f is None:
        return False
    annotation = unannotated(f.type)
    args = typing.get_args(annotation) if is_union(annotation) else (annotation,)
    return any(
        _is_section(unannotated(a))
        or typing.get_origin(unannotated(a)) in (tuple, list, dict, set, frozenset)
        or a in (tuple, list, dict, set, frozenset)
        for a in args
    )


def is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


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
    shared: type[Section] | None = None,
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


def _misnamed(model: type[Section], environ: Mapping[str, str]) -> list[str]:
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
        for section in field_names(model):
            inner = _section_model(model, [section])
            key = rest[len(section) + 1 :]
            if inner is not None and rest.startswith(section + "_") and key in fields(inner):
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
    model: type[T],
    data: dict[str, Any],
    source: str,
    environ: Mapping[str, str] | None = None,
    error: Callable[[str, list[str]], CitygateError] | None = None,
) -> T:
    """Validate `data`; each problem becomes one line naming key, value and expected form."""
    walk = _Walk()
    out = walk.value(model, data, ())
    if walk.problems or out is _FAILED:
        variables = {name.upper() for name in (environ or {})}
        secrets = set(_secret_names(model))
        problems = [_problem(p, variables, secrets) for p in walk.problems]
        raise (error or _error)(source, problems)
    return typing.cast(T, out)


def _error(source: str, problems: list[str]) -> ConfigError:
    message = f"{source}: invalid configuration:\n  " + "\n  ".join(problems)
    return ConfigError(message, source=source, problems=tuple(problems))


# -- the walk: every key converted by msgspec, every problem kept with its key -----------------

_FAILED: Any = object()  # what a value that did not validate becomes (its problem is recorded)
_ABSENT: Any = object()  # the value of a required key that is missing


@dataclass(frozen=True)
class _Problem:
    loc: tuple[str | int, ...]
    value: Any
    message: str


def _decode(kind: type, value: Any) -> Any:
    """msgspec's hook for the types it does not know itself: paths and secrets, from text."""
    if isinstance(value, kind):
        return value
    if issubclass(kind, Path) and isinstance(value, str):
        return kind(value)
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    raise ValueError(f"expected {'a path' if issubclass(kind, Path) else 'text'}")


def unannotated(annotation: Any) -> Any:
    """`Annotated[X, ...]` -> X."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _split(annotation: Any) -> tuple[Any, list[Before], list[Check]]:
    """A field's type for msgspec (its Meta limits kept), and our own markers."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, [], []
    base, *extra = typing.get_args(annotation)
    metas = tuple(m for m in extra if isinstance(m, msgspec.Meta))
    befores = [m for m in extra if isinstance(m, Before)]
    checks = [m for m in extra if isinstance(m, Check)]
    return (typing.Annotated[(base, *metas)] if metas else base), befores, checks


def _has_markers(annotation: Any) -> bool:
    """Whether a type holds a section or one of our markers anywhere, so the walk must descend
    into it rather than hand it to msgspec whole."""
    if typing.get_origin(annotation) is typing.Annotated:
        _, befores, checks = _split(annotation)
        if befores or checks:
            return True
        annotation = unannotated(annotation)
    if _is_section(annotation):
        return True
    return any(_has_markers(a) for a in typing.get_args(annotation) if a is not Ellipsis)


class _Walk:
    def __init__(self) -> None:
        self.problems: list[_Problem] = []

    def fail(self, loc: tuple[str | int, ...], value: Any, message: str) -> Any:
        self.problems.append(_Problem(loc, value, message))
        return _FAILED

    def value(self, annotation: Any, raw: Any, loc: tuple[str | int, ...]) -> Any:
        kind, befores, checks = _split(annotation)
        given = raw
        for before in befores:
            try:
                raw = before.reshape(raw)
            except ValueError as exc:
                return self.fail(loc, given, str(exc))
        out = self.typed(kind, raw, loc)
        for check in checks:
            if out is _FAILED:
                break
            try:
                out = check.check(out)
            except ValueError as exc:
                return self.fail(loc, given, str(exc))
        return out

    def typed(self, kind: Any, raw: Any, loc: tuple[str | int, ...]) -> Any:
        if is_union(kind):
            members = [a for a in typing.get_args(kind) if a is not type(None)]
            if raw is None and len(members) < len(typing.get_args(kind)):
                return None
            if len(members) == 1:
                return self.value(members[0], raw, loc)
            if all(_is_section(unannotated(m)) for m in members):
                return self.tagged(members, raw, loc)
            return self.first(members, raw, loc)
        if _is_section(kind):
            return self.section(kind, raw, loc)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin in (tuple, list) and (len(args) == 1 or args[1:] == (Ellipsis,)):
            if not isinstance(raw, (list, tuple)):
                return self.fail(loc, raw, "expected a list")
            items = [self.value(args[0], item, (*loc, i)) for i, item in enumerate(raw)]
            return _FAILED if any(i is _FAILED for i in items) else origin(items)
        if origin is dict:
            if not isinstance(raw, dict):
                return self.fail(loc, raw, "expected a mapping")
            pairs = [
                (self.value(args[0], k, (*loc, str(k))), self.value(args[1], v, (*loc, str(k))))
                for k, v in raw.items()
            ]
            return _FAILED if any(x is _FAILED for p in pairs for x in p) else dict(pairs)
        if _has_markers(kind):
            raise TypeError(f"a schema type the settings walk does not know: {kind!r}")
        try:
            return msgspec.convert(raw, kind, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as exc:
            choices = typing.get_args(unannotated(kind))
            if typing.get_origin(unannotated(kind)) is typing.Literal:
                return self.fail(loc, raw, "expected one of " + ", ".join(map(repr, choices)))
            return self.fail(loc, raw, str(exc))

    def first(self, members: list[Any], raw: Any, loc: tuple[str | int, ...]) -> Any:
        """A union of plain types (`Literal["now"] | datetime`): the first that takes the value."""
        messages = []
        for member in members:
            attempt = _Walk()
            out = attempt.value(member, raw, loc)
            if out is not _FAILED:
                return out
            messages += [p.message for p in attempt.problems]
        return self.fail(loc, raw, " or ".join(dict.fromkeys(messages)))

    def tagged(self, members: list[Any], raw: Any, loc: tuple[str | int, ...]) -> Any:
        """A union of sections told apart by a Literal key they all have (`kind: serial`)."""
        tag = _tag_field(members)
        if not isinstance(raw, dict) or tag is None:
            return self.fail(loc, raw, "expected a mapping")
        for member in members:
            if raw.get(tag, _default_tag(member, tag)) in _tag_values(member, tag):
                return self.section(member, raw, loc)
        known = [v for m in members for v in _tag_values(m, tag)]
        return self.fail((*loc, tag), raw.get(tag), f"expected one of {', '.join(map(str, known))}")

    def section(self, model: type[Section], raw: Any, loc: tuple[str | int, ...]) -> Any:
        if not isinstance(raw, dict):
            return self.fail(loc, raw, "expected a mapping of keys")
        raw = _secrets_from_files(model, raw)
        known = fields(model)
        failed = False
        if model.__struct_config__.forbid_unknown_fields:
            for key in raw:
                if key not in known:
                    message = "not a known key; expected one of " + ", ".join(known)
                    failed = self.fail((*loc, str(key)), raw[key], message) is _FAILED
        values = {}
        for name, f in known.items():
            if name in raw:
                values[name] = self.value(f.type, raw[name], (*loc, name))
                failed = failed or values[name] is _FAILED
            elif f.required:
                failed = self.fail((*loc, name), _ABSENT, "a required key") is _FAILED
        if failed:
            return _FAILED
        try:
            return model(**values)
        except (ValueError, TypeError) as exc:  # its __post_init__: a check across its keys
            return self.fail(loc, raw, str(exc))


def _tag_values(model: Any, tag: str) -> tuple[Any, ...]:
    f = fields(model).get(tag)
    literal = unannotated(f.type) if f is not None else None
    return typing.get_args(literal) if typing.get_origin(literal) is typing.Literal else ()


def _default_tag(model: Any, tag: str) -> Any:
    f = fields(model)[tag]
    return None if f.default is NODEFAULT else f.default


def _tag_field(members: list[Any]) -> str | None:
    if not all(_is_section(m) for m in members):
        return None
    common = set.intersection(*(set(fields(m)) for m in members))
    return next(
        (name for name in sorted(common) if all(_tag_values(m, name) for m in members)), None
    )


def _secrets_from_files(model: type[Section], data: dict[str, Any]) -> dict[str, Any]:
    for name in _secret_fields(model):
        file = data.get(name + SECRET_FILE_SUFFIX)
        if data.get(name) is None and file:
            # Unreadable: the file field's own check names the file and the reason.
            with contextlib.suppress(OSError):
                data = {**data, name: Path(file).read_text().strip()}
    return data


def _problem(problem: _Problem, variables: set[str], secrets: set[str]) -> str:
    loc = [str(p) for p in problem.loc]
    key = ".".join(loc) or "(top level)"
    if problem.value is _ABSENT:
        value = "(missing)"
    else:
        value = _shown(problem.value, secrets, hide=bool(loc) and loc[-1] in secrets)
    names = [p for p in loc if not p.isdigit()]
    origin = next(
        (
            f" (from {v})"
            for n in range(len(names), 0, -1)
            if (v := env_name(*names[:n])) in variables
        ),
        "",
    )
    return f"{key} = {value}{origin}: {problem.message}"


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
    owner: type[Section]  # the section that declares it
    section: bool  # a nested section, whose keys follow
    in_list: bool = False  # a key of each item of a list (serial ports): no variable of its own

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _models_in(annotation: Any) -> list[type[Section]]:
    """The schema classes an annotation holds: `X`, `X | None`, `tuple[X, ...]`."""
    annotation = unannotated(annotation)
    if _is_section(annotation):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _is_secret(annotation: Any) -> bool:
    annotation = unannotated(annotation)
    return annotation is Secret or Secret in typing.get_args(annotation)


def _secret_fields(model: type[Section]) -> list[str]:
    return [name for name, f in fields(model).items() if _is_secret(f.type)]


def _secret_names(model: type[Section]) -> Iterator[str]:
    for key in keys(model):
        if _is_secret(key.field.type):
            yield key.path[-1]


def keys(
    model: type[Section], prefix: tuple[str, ...] = (), in_list: bool = False
) -> Iterator[Key]:
    """Every key of a schema, depth first, sections before their keys."""
    for name, f in fields(model).items():
        inner = _models_in(f.type)
        yield Key((*prefix, name), f, model, bool(inner), in_list)
        listed = in_list or typing.get_origin(without_none(f.type)) in (tuple, list)
        for sub in inner[:1]:
            yield from keys(sub, (*prefix, name + ("[]" if listed and not in_list else "")), listed)


def without_none(annotation: Any) -> Any:
    annotation = unannotated(annotation)
    if is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return unannotated(args[0]) if len(args) == 1 else annotation
    return annotation


def _section_model(model: type[Section], path: list[str]) -> type[Section] | None:
    for part in path:
        if part.isdigit():
            continue
        f = fields(model).get(part)
        inner = _models_in(f.type) if f is not None else []
        if not inner:
            return None
        model = inner[0]
    return model


def _secret_keys(model: type[Section], data: dict[str, Any]) -> list[str]:
    found = []
    for key in keys(model):
        node: Any = data
        for part in key.path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and _is_secret(key.field.type):
            found.append(key.dotted)
    return found


def _without_foreign(
    values: dict[str, Any], model: type[Section], shared: type[Section]
) -> dict[str, Any]:
    out = dict(values)
    for name, section in values.items():
        mine, theirs = _section_model(model, [name]), _section_model(shared, [name])
        if isinstance(section, dict) and mine is not None and theirs is not None:
            out[name] = {
                k: v for k, v in section.items() if k in fields(mine) or k not in fields(theirs)
            }
    return out


def default_of(f: FieldInfo) -> Any:
    """A field's default as the reference shows it (None when required)."""
    if f.default is not NODEFAULT:
        return f.default
    if f.default_factory is not NODEFAULT:
        return "(computed)"
    return None


def to_builtins(section: Section) -> Any:
    """A schema's values as JSON-ready data, secrets included (for a file of mode 0600)."""

    def encode(value: Any) -> Any:
        if isinstance(value, Secret):
            return value.get_secret_value()
        if isinstance(value, Path):
            return str(value)
        raise NotImplementedError(type(value))

    return msgspec.to_builtins(section, enc_hook=encode)
