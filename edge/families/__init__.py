"""The sensor families' device knowledge beyond the catalog, one module per family.

`edge/families/<type>.py` is named for its catalog type (`edge/sensors/<type>.yaml`) and declares
`FAMILY`, an `EdgeFamily`: the serial codecs its devices speak. A family that only speaks MQTT
JSON needs no module here. Modules are found by name, so adding a family edits no list.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from edge.catalog import family_modules
from edge.errors import CatalogError
from edge.serial_codec import SerialCodec


@dataclass(frozen=True)
class EdgeFamily:
    name: str  # the catalog type, and the module's name
    serial_codecs: tuple[SerialCodec, ...] = ()


@functools.cache
def families() -> dict[str, EdgeFamily]:
    """Every family module's `FAMILY`, by name, checked against the catalog."""
    found: dict[str, EdgeFamily] = {}
    codecs: set[str] = set()
    for where, family, _ in family_modules(__name__, __path__, "FAMILY"):
        for codec in family.serial_codecs:
            if codec.sensor_type != family.name or codec.name in codecs:
                raise CatalogError(
                    f"{where}: serial codec {codec.name!r} must carry {family.name!r} "
                    f"(it carries {codec.sensor_type!r}) and have a name no other codec has"
                )
            codecs.add(codec.name)
        found[family.name] = family
    return found
