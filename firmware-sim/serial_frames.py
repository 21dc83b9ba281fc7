"""What a serial device puts on its line for one reading, in the wire format of its codec:
Plantower PMS5003 or Nova SDS011 binary frames, or the $TSC traffic line; edge/ does the encoding.
"""

from __future__ import annotations

from typing import Final

import msgspec

from edge import pms5003, sds011, traffic_line
from edge.reading import Reading

_WORD_MAX: Final = 0xFFFF


def _word(value: float) -> int:
    return min(_WORD_MAX, max(0, round(value)))


def pms5003_frame(reading: Reading, device_index: int) -> bytes:
    """A PMS5003 frame: outdoors the atmospheric and CF=1 values agree below ~30 µg/m³."""
    f = reading.fields
    pm1, pm25, pm10 = float(f["pm1"]), float(f["pm25"]), float(f["pm10"])
    cf = 1.0 + max(0.0, pm25 - 30.0) / 200.0  # CF=1 reads higher in heavy pollution
    # Particle counts per 0.1 L, in the proportions a PMS5003 shows in urban air.
    n03 = 55.0 * pm1 + 20.0
    frame = pms5003.PMS5003Frame(
        pm1_0_cf1=_word(pm1 * cf),
        pm2_5_cf1=_word(pm25 * cf),
        pm10_cf1=_word(pm10 * cf),
        pm1_0_atm=_word(pm1),
        pm2_5_atm=_word(pm25),
        pm10_atm=_word(pm10),
        particles_0_3um=_word(n03),
        particles_0_5um=_word(n03 * 0.3),
        particles_1_0um=_word(n03 * 0.3 * 0.18),
        particles_2_5um=_word(max(0.0, pm10 - pm25) * 0.6),
        particles_5_0um=_word(max(0.0, pm10 - pm25) * 0.12),
        particles_10um=_word(max(0.0, pm10 - pm25) * 0.03),
    )
    return pms5003.encode(frame)


def sds011_frame(reading: Reading, device_index: int) -> bytes:
    f = reading.fields
    frame = sds011.SDS011Frame(
        pm25_tenths=_word(float(f["pm25"]) * 10),
        pm10_tenths=_word(float(f["pm10"]) * 10),
        device_id=device_index & _WORD_MAX,
    )
    return sds011.encode(frame)


def _on_the_line(name: str, value: object) -> bool:
    # A full reading does not fit in one $TSC line (512 bytes), so, like a serial counter, the
    # controller sends flows, phases and detector data, and detector fault codes only when set.
    if name.startswith(("split_", "pedestrianCall_")):
        return False
    return not (name.endswith("_fault") and value == "none")


def traffic_line_frame(reading: Reading, device_index: int) -> bytes:
    fields = {k: v for k, v in reading.fields.items() if _on_the_line(k, v)}
    return traffic_line.encode(msgspec.structs.replace(reading, fields=fields))
