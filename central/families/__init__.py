"""Central's side of each sensor family: the rules that apply to its readings, one module per
family.

`central/families/<type>.py` is named for its catalog type and declares `FAMILY`, a
`CentralFamily`. The detector gives each sensor of a family its own rule state and asks it for
findings on every reading, after the rules every type shares (range, flatline, univariate,
district consensus). Modules are found by name, so adding a family edits no core module.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from central.alerts import Finding
from central.camera_rules import Junctions
from edge.catalog import load_catalog
from edge.errors import CatalogError
from edge.reading import Reading

if TYPE_CHECKING:
    from central.detect import DetectorConfig


class SensorRules(Protocol):
    """One sensor's state of its family's rules."""

    def check(self, r: Reading, interval_s: float) -> Sequence[Finding]:
        """Findings on the sensor's next reading; `interval_s` is its reporting interval as the
        detector knows it (learned, or the catalog's)."""
        ...


@dataclass(frozen=True)
class RuleSetting:
    """What a family's rules are made with: one per detector, shared by its sensors."""

    config: DetectorConfig
    cycle_plans: Mapping[str, float]  # planned cycle length by signal controller id
    # Cameras and signal controllers at one junction, whose counts are held against each other.
    junctions: Junctions


@dataclass(frozen=True)
class CentralFamily:
    name: str  # the catalog type, and the module's name
    rules: Callable[[str, RuleSetting], SensorRules]  # a new sensor's (by id) rule state
    # Fields its own rules judge (regex of whole names): a univariate detector on them would
    # only repeat those alerts.
    own_fields: str = ""
    # Fields legitimately constant for long spells (regex found in names), kept from the
    # flatline rule.
    steady_fields: str = ""


@functools.cache
def families() -> dict[str, CentralFamily]:
    """Every family module's `FAMILY`, by name, checked against the catalog."""
    types = load_catalog().types
    found: dict[str, CentralFamily] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        family: CentralFamily = importlib.import_module(f"{__name__}.{info.name}").FAMILY
        if family.name != info.name or family.name not in types:
            raise CatalogError(
                f"central/families/{info.name}.py declares family {family.name!r}: it must be "
                f"named for its module and a catalog type (known: {sorted(types)})"
            )
        found[family.name] = family
    return found
