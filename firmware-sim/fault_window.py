"""A fault window and its state while active: the values the simulator's fault code and the
sensor families' own faults (`firmware-sim/families/`) share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

# A window's part (a loop detector of a controller) is drawn from 1..PARTS for every window, so
# the random plan does not depend on which faults there are; a family with fewer parts folds it.
PARTS: Final = 8

Values = dict[str, np.ndarray]  # a tick's values of one family's due devices, by field


@dataclass(frozen=True)
class FaultWindow:
    """One fault on one device from start_ns (inclusive) to end_ns (exclusive)."""

    id: int
    device: int
    sensor_id: str
    sensor_type: str
    fault: str
    start_ns: int
    end_ns: int
    field: str = ""
    magnitude: float = 0.0
    detector: int = 0  # the part it hits, 1..PARTS (labelled for faults that hit a part)
    origin: str = "scheduled"


@dataclass
class ActiveFault:
    window: FaultWindow
    state: dict[str, object] = field(default_factory=dict)


# A family's value fault: change, in place, the values of the due device at `pos` at t_ns.
ValueFault = Callable[[ActiveFault, Values, int, int, np.random.Generator], None]
