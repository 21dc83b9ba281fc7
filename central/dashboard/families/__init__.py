"""The dashboard's side of each sensor family: its view and how its sensors look on the map,
one module per family that has a view.

`central/dashboard/families/<type>.py` is named for its catalog type and declares `VIEW`, a
`FamilyView`. The app serves each view at /api/<path> (one sensor's latest reading at
/api/<path>/<sensor_id>) and asks it for the map state of each of its sensors. Modules are found
by name, so adding a view edits no core module; the page's part of it is in static/app.js.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from central.dashboard.aqi import Standard
from central.dashboard.queries import History
from central.dashboard.settings import Settings
from edge.catalog import family_modules
from edge.errors import CatalogError

# Map colours shared by the views (an air-quality monitor takes its AQI band's).
OK_COLOR: Final = "#3d8bfd"
FAULT_COLOR: Final = "#d63384"

Row = dict[str, Any]  # one sensor's row of a view: at least sensor_id, district, last_seen


class Source(Protocol):
    """What a view is built from: the dashboard's settings and its cached InfluxDB answers."""

    @property
    def settings(self) -> Settings: ...
    @property
    def history(self) -> History: ...
    def cached(self, key: str, compute: Callable[[], Any], ttl: float | None = None) -> Any: ...


@dataclass(frozen=True)
class Marker:
    """A sensor on the map: its state ("ok", "fault", "aqi"), colour and hover label."""

    state: str
    color: str
    label: str


@dataclass(frozen=True)
class FamilyView:
    name: str  # the catalog type, and the module's name
    path: str  # served at /api/<path>
    build: Callable[[Source, Standard], Any]  # the view's JSON
    rows: Callable[[Any], Iterable[Row]]  # the per-sensor rows in what `build` made
    marker: Callable[[Row], Marker]  # the map state of a sensor that is not silent
    history_fields: tuple[str, ...] = ()  # what the History tab shows of a sensor first
    by_standard: bool = False  # the view changes with the AQI standard asked for

    def key(self, standard: Standard) -> str:
        """The view's cache key."""
        return f"{self.path}:{standard.id}" if self.by_standard else self.path


@functools.cache
def views() -> dict[str, FamilyView]:
    """Every family module's `VIEW`, by name, checked against the catalog."""
    found: dict[str, FamilyView] = {}
    for where, view, sensor in family_modules(__name__, __path__, "VIEW"):
        unknown = set(view.history_fields) - set(sensor.fields)
        if unknown:
            raise CatalogError(
                f"{where}: history fields {sorted(unknown)} are no fields of {view.name}"
            )
        if view.path in {v.path for v in found.values()}:
            raise CatalogError(f"{where}: path {view.path!r} is taken")
        found[view.name] = view
    return found
