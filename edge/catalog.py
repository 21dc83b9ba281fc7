"""The sensor catalog: each sensor type's fields, units, kinds and valid ranges, read from data.

A type is one YAML file in edge/sensors/; adding a file adds a type. Repeated blocks (approaches,
detectors) are written once as a group and expanded into flat field names such as "phase_N".
"""

from __future__ import annotations

import functools
import importlib
import math
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec
import yaml

from edge.errors import CatalogError, CitygateError, UnknownSensorType
from edge.reading import FieldValue

Kind = Literal["float", "int", "str", "bool"]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1  # InfluxDB integers, and Reading.seq and ts, are int64
_FLOAT_MAX: Final = int(sys.float_info.max)  # a larger JSON integer has no float to become

# Field names become InfluxDB field keys and struct attributes, so they stay plain identifiers.
_FIELD_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FieldProblem(msgspec.Struct, frozen=True):
    """One thing wrong with one field value; `code` is one of edge.codec.CODES."""

    code: Literal["out_of_range", "unknown_field", "wrong_kind", "not_finite", "bad_value"]
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class FieldSpec(msgspec.Struct, frozen=True):
    """One field of a sensor type: its unit, kind and valid physical range or allowed values."""

    name: str
    unit: str
    kind: Kind
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""

    def problem(self, value: object) -> FieldProblem | None:
        """What is wrong with `value` for this field, or None."""
        kind = self.kind
        # bool is an int subclass in Python: a JSON true must not pass for a number.
        is_bool = isinstance(value, bool)
        if kind == "float":
            if is_bool or not isinstance(value, float | int):
                return self._wrong_kind(value)
            if type(value) is int and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
                detail = f"{self.name}={value} does not fit a 64-bit float"
                return FieldProblem("bad_value", self.name, detail)
            if not math.isfinite(value):
                return FieldProblem("not_finite", self.name, f"{self.name}={value!r} is not finite")
            return self._range_problem(value)
        if kind == "int":
            if is_bool or not isinstance(value, int):
                return self._wrong_kind(value)
            if not INT64_MIN <= value <= INT64_MAX:  # InfluxDB integers are 64-bit
                detail = f"{self.name}={value} does not fit a 64-bit integer"
                return FieldProblem("bad_value", self.name, detail)
            return self._range_problem(value)
        if kind == "str":
            if not isinstance(value, str):
                return self._wrong_kind(value)
            if self.allowed is not None and value not in self.allowed:
                # Not a measurement beyond its range but a state the catalog has no name for:
                # downstream could only store a string nobody queries for, so it is refused.
                detail = f"{self.name}={value!r} not one of {', '.join(self.allowed)}"
                return FieldProblem("bad_value", self.name, detail)
            return None
        return None if is_bool else self._wrong_kind(value)

    def _wrong_kind(self, value: object) -> FieldProblem:
        detail = f"{self.name} expects {self.kind}, got {type(value).__name__} {value!r}"
        return FieldProblem("wrong_kind", self.name, detail)

    def _range_problem(self, value: float) -> FieldProblem | None:
        low, high = self.min, self.max
        if (low is not None and value < low) or (high is not None and value > high):
            unit = f" {self.unit}" if self.unit else ""
            detail = f"{self.name}={value!r} outside [{_num(low)}, {_num(high)}]{unit}"
            return FieldProblem("out_of_range", self.name, detail)
        return None


class SensorType(msgspec.Struct, frozen=True):
    """A kind of device: what it reports, in which units, and how often."""

    name: str
    description: str
    interval_s: float  # expected reporting interval
    fields: dict[str, FieldSpec]
    fiware_model: str = ""  # the FIWARE Smart Data Model the field names follow

    def problems(self, fields: Mapping[str, object]) -> list[FieldProblem]:
        """Every unknown field, wrong kind, non-finite number and out-of-range value."""
        specs = self.fields
        found = []
        for name, value in fields.items():
            spec = specs.get(name)
            if spec is None:
                detail = f"{name!r} is not a field of {self.name}"
                found.append(FieldProblem("unknown_field", name, detail))
            elif (problem := spec.problem(value)) is not None:
                found.append(problem)
        return found

    def check(self, fields: Mapping[str, object]) -> list[str]:
        """The problems of `fields` as "code: detail" strings; empty when all is well."""
        return [str(p) for p in self.problems(fields)]

    def normalise(self, fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
        """`fields` with integers in float fields made floats.

        An InfluxDB field keeps the type of its first write; a float field that once arrives as
        JSON `35` would otherwise be refused from then on.
        """
        specs = self.fields
        out: dict[str, FieldValue] = {}
        for name, value in fields.items():
            spec = specs.get(name)
            if spec is not None and spec.kind == "float" and type(value) is int:
                out[name] = float(value)
            else:
                out[name] = value
        return out


class Catalog(msgspec.Struct, frozen=True):
    """All known sensor types by name."""

    types: dict[str, SensorType]

    def sensor(self, sensor_type: str) -> SensorType:
        """The type called `sensor_type`; raises UnknownSensorType naming the known ones."""
        try:
            return self.types[sensor_type]
        except KeyError:
            known = ", ".join(sorted(self.types))
            raise UnknownSensorType(
                f"unknown sensor type {sensor_type!r}; the catalog knows {known}"
            ) from None

    def get(self, sensor_type: str) -> SensorType | None:
        return self.types.get(sensor_type)

    def __contains__(self, sensor_type: object) -> bool:
        return sensor_type in self.types

    def __iter__(self) -> Iterator[SensorType]:
        return iter(self.types.values())


# The file format, checked by msgspec so a typo in a key is an error naming its path.
class _FieldDoc(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    unit: str = ""
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None
    description: str = ""


class _GroupDoc(msgspec.Struct, forbid_unknown_fields=True):
    name: str  # template such as "{field}_{member}" or "d{member}_{field}"
    fields: dict[str, _FieldDoc]
    members: list[str] | None = None
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None  # members "1".."count"


class _SensorDoc(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    description: str
    interval_s: Annotated[float, msgspec.Meta(gt=0)]
    fields: dict[str, _FieldDoc]
    groups: list[_GroupDoc] = []
    fiware_model: str = ""


def load_catalog(directory: Path | Traversable | None = None) -> Catalog:
    """The catalog from the *.yaml files in `directory` (default: the packaged edge/sensors)."""
    if directory is None:
        return _packaged_catalog()
    return _load(directory)


@functools.cache
def _packaged_catalog() -> Catalog:
    return _load(resources.files("edge") / "sensors")


def _load(directory: Path | Traversable) -> Catalog:
    if not directory.is_dir():
        raise CatalogError(f"sensor catalog directory {directory} does not exist")
    files = sorted((f for f in directory.iterdir() if f.name.endswith(".yaml")), key=str)
    if not files:
        raise CatalogError(f"sensor catalog directory {directory} holds no *.yaml files")
    types: dict[str, SensorType] = {}
    for file in files:
        sensor = _sensor_from_file(file)
        types[sensor.name] = sensor
    return Catalog(types)


def _sensor_from_file(file: Path | Traversable) -> SensorType:
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
        doc = msgspec.convert(document, _SensorDoc)
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise CatalogError(f"sensor catalog file {file}: {exc}") from exc
    stem = file.name.removesuffix(".yaml")
    if doc.name != stem:
        raise CatalogError(f"sensor catalog file {file}: name {doc.name!r} must match file name")
    specs = [_spec(file, name, fd) for name, fd in doc.fields.items()]
    for group in doc.groups:
        specs.extend(_expand(file, group))
    fields: dict[str, FieldSpec] = {}
    for spec in specs:
        if spec.name in fields:
            raise CatalogError(f"sensor catalog file {file}: field {spec.name!r} defined twice")
        fields[spec.name] = spec
    return SensorType(doc.name, doc.description, doc.interval_s, fields, doc.fiware_model)


def _expand(file: Path | Traversable, group: _GroupDoc) -> list[FieldSpec]:
    if (group.members is None) == (group.count is None):
        raise CatalogError(f"sensor catalog file {file}: a group needs members or count, not both")
    if "{member}" not in group.name or "{field}" not in group.name:
        raise CatalogError(
            f"sensor catalog file {file}: group name {group.name!r} needs {{member}} and {{field}}"
        )
    members = group.members or [str(i) for i in range(1, (group.count or 0) + 1)]
    return [
        _spec(file, group.name.format(member=member, field=field), fd)
        for member in members
        for field, fd in group.fields.items()
    ]


def _spec(file: Path | Traversable, name: str, fd: _FieldDoc) -> FieldSpec:
    def fail(why: str) -> CatalogError:
        return CatalogError(f"sensor catalog file {file}: field {name!r} {why}")

    if not _FIELD_NAME.fullmatch(name):
        raise fail("is not a plain identifier")
    numeric = fd.kind in ("float", "int")
    if not numeric and (fd.min is not None or fd.max is not None):
        raise fail(f"is {fd.kind}: min/max apply to float and int only")
    if fd.allowed is not None and fd.kind != "str":
        raise fail("has allowed values but is not of kind str")
    if fd.min is not None and fd.max is not None and fd.min > fd.max:
        raise fail(f"has min {fd.min} above max {fd.max}")
    allowed = tuple(fd.allowed) if fd.allowed is not None else None
    return FieldSpec(name, fd.unit, fd.kind, fd.min, fd.max, allowed, fd.description)


def _num(value: float | None) -> str:
    if value is None:
        return "…"
    return str(int(value)) if float(value).is_integer() else str(value)


def family_modules(
    package: str, path: Iterable[str], attr: str, error: type[CitygateError] = CatalogError
) -> Iterator[tuple[str, Any, SensorType]]:
    """(where, declaration, its catalog type) of every module of a family package, in name order.

    Each layer keeps one module per sensor family, named for its catalog type and declaring
    `attr`, an object with that `name`; this is the check every layer's registry shares. A
    module that does not fit raises `error` naming the file.
    """
    types = load_catalog().types
    depth = package.count(".") + 2  # the package's folders and the file, as the tree has them
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        declared = getattr(module, attr)
        where = "/".join(Path(str(module.__file__)).parts[-depth:])
        if declared.name != info.name or declared.name not in types:
            raise error(
                f"{where} declares {attr} {declared.name!r}: it must be named for its module "
                f"and a catalog type (edge/sensors/<type>.yaml; known: {sorted(types)})"
            )
        yield where, declared, types[declared.name]
