"""Serial codecs by name, gathered from the sensor families (`edge/families/`): the values a
serial port's `codec` may take in the gateway's config and the simulator's scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from edge.families import families
from edge.serial_codec import SerialCodec

CODECS: Final[dict[str, SerialCodec]] = {
    codec.name: codec for family in families().values() for codec in family.serial_codecs
}

if TYPE_CHECKING:
    CodecName = str
else:
    # A Literal made from the registry, so the settings schema rejects an unknown codec naming the known
    # ones, and the configuration reference lists them.
    CodecName = Literal[tuple(CODECS)]
