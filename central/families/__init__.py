"""Central's side of each sensor family: the rules that apply to its readings, one module per
family.

`central/families/<type>.py` is named for its catalog type and declares `FAMILY`, a
`CentralFamily`: its per-sensor rules, its per-reading checks with a vectorised first pass, the
fields judged against the district's other sensors of the type, and the fields the shared rules
leave alone. The detector runs the rules every type shares (range, flatline, univariate) and
then those its family declares. Modules are found by name, so adding a family edits no core
module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from central.alerts import Finding
from edge.catalog import family_modules
from edge.errors import CatalogError
from edge.reading import FieldValue, Reading

if TYPE_CHECKING:
    from central.detect import DetectorConfig

T = TypeVar("T")


class SensorRules(Protocol):
    """One sensor's state of its family's rules."""

    def check(self, r: Reading, interval_s: float) -> Sequence[Finding]:
        """Findings on the sensor's next reading; `interval_s` is its reporting interval as the
        detector knows it (learned, or the catalog's)."""
        ...


@runtime_checkable
class Forgetting(Protocol):
    """Shared rule state that holds sensors: told when the detector drops one."""

    def forget(self, sensor_id: str) -> None: ...


class RuleSetting:
    """What a family's rules are made with: one per detector, shared by its sensors.

    Beside the detector's config it holds what the families' rules share across sensors, one
    object of each type: given when the detector was made (a family's parameters, a plan), or
    made on first use with its defaults (the junctions that pair cameras with controllers).
    """

    def __init__(self, config: DetectorConfig, shared: Iterable[object] = ()) -> None:
        self.config = config
        self._shared: dict[type, object] = {type(o): o for o in shared}

    def shared(self, kind: type[T]) -> T:
        """The detector's one `kind`."""
        found = self._shared.get(kind)
        if found is None:
            found = self._shared[kind] = kind()
        return cast(T, found)

    def forget(self, sensor_id: str) -> None:
        """Drop a sensor from the shared state that holds sensors."""
        for held in self._shared.values():
            if isinstance(held, Forgetting):
                held.forget(sensor_id)


@dataclass(frozen=True)
class ColumnCheck:
    """A per-reading rule with a vectorised first pass: `suspects` takes a batch's columns of
    `fields` (NaN where missing) and marks the rows that may have a finding; only those readings
    go to `findings`."""

    fields: tuple[str, ...]
    suspects: Callable[..., npt.NDArray[np.bool_]]
    findings: Callable[[Mapping[str, FieldValue]], list[Finding]]


@dataclass(frozen=True, eq=False)  # one per module, hashed by identity (the detector caches by it)
class CentralFamily:
    name: str  # the catalog type, and the module's name
    rules: Callable[[str, RuleSetting], SensorRules] | None = None  # a new sensor's rule state
    checks: tuple[ColumnCheck, ...] = ()
    # Fields judged against the district's other sensors of the type (district consensus),
    # for readings that carry `district_requires`.
    district_fields: tuple[str, ...] = ()
    district_requires: str = ""
    # Fields its own rules judge (regex of whole names): a univariate detector on them would
    # only repeat those alerts.
    own_fields: str = ""
    # Fields legitimately constant for long spells (regex found in names), kept from the
    # flatline rule.
    steady_fields: str = ""
    # The simulated fault each of its alert types not named after one is built to catch first:
    # `central evaluate sim` counts their false alerts against that fault.
    alert_faults: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def families() -> dict[str, CentralFamily]:
    """Every family module's `FAMILY`, by name, checked against the catalog."""
    found: dict[str, CentralFamily] = {}
    for where, family, sensor in family_modules(__name__, __path__, "FAMILY"):
        fields = sensor.fields
        named: list[str] = [*family.district_fields, *(f for c in family.checks for f in c.fields)]
        if family.district_requires:
            named.append(family.district_requires)
        if not all(name in fields for name in named):
            raise CatalogError(
                f"{where}: its checks and district fields must be fields of {family.name}"
            )
        found[family.name] = family
    return found


def district_fields() -> tuple[str, ...]:
    """Every family's district fields, once each."""
    return tuple(dict.fromkeys(f for fam in families().values() for f in fam.district_fields))
