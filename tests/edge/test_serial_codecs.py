"""Serial codecs by name: from a port's bytes to Readings, as the gateway drives them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import pms5003, sds011, traffic_line
from edge.codec import Rejected
from edge.deframer import LineDeframer, PMS5003Deframer, SDS011Deframer
from edge.pms5003 import PMS5003Frame
from edge.reading import Location, Reading
from edge.sds011 import SDS011Frame
from edge.serial_codec import GATEWAY_SEQ, SerialCodec
from edge.serial_codecs import CODECS
from tests.edge import hostile as hostile_inputs
from tests.edge.strategies import SETTINGS, hostile, split_points

RECEIVED = 1_700_000_000_250_000_000
WHERE = Location("nord", 52.4, 4.9)


def to_reading(codec: SerialCodec, frame: bytes, seq: int = 7) -> Reading | Rejected:
    return codec.to_reading(
        frame, sensor_id="aq-port0", location=WHERE, seq=seq, received_ts=RECEIVED
    )


@pytest.mark.parametrize(
    ("name", "sensor_type", "deframer"),
    [
        ("pms5003", "air_quality", PMS5003Deframer),
        ("sds011", "air_quality", SDS011Deframer),
        ("traffic_line", "traffic_signal", LineDeframer),
    ],
)
def test_registry(name: str, sensor_type: str, deframer: type) -> None:
    codec = CODECS[name]
    assert (codec.name, codec.sensor_type) == (name, sensor_type)
    assert isinstance(codec.deframer(), deframer)
    assert codec.deframer() is not codec.deframer()  # one per port


def test_pms5003_reports_atmospheric_values() -> None:
    frame = pms5003.encode(PMS5003Frame(9, 40, 60, 8, 35, 50, 0, 0, 0, 0, 0, 0))
    assert to_reading(CODECS["pms5003"], frame) == Reading(
        sensor_id="aq-port0",
        sensor_type="air_quality",
        seq=7,
        ts=RECEIVED,
        fields={"pm1": 8.0, "pm25": 35.0, "pm10": 50.0},
        location=WHERE,
        received_ts=RECEIVED,
        quality=(GATEWAY_SEQ,),
    )


def test_sds011_reports_tenths_as_floats() -> None:
    frame = bytes.fromhex("aa c0 d4 04 3a 0a a1 60 1d ab")
    reading = to_reading(CODECS["sds011"], frame, seq=1)
    assert isinstance(reading, Reading)
    assert reading.fields == {"pm25": 123.6, "pm10": 261.8}
    assert (reading.seq, reading.ts, reading.quality) == (1, RECEIVED, (GATEWAY_SEQ,))


def test_values_beyond_the_catalog_range_are_flagged() -> None:
    frame = sds011.encode(SDS011Frame(pm25_tenths=15_000, pm10_tenths=200, device_id=1))
    reading = to_reading(CODECS["sds011"], frame)
    assert isinstance(reading, Reading)
    assert reading.fields["pm25"] == 1500.0
    assert reading.quality == (GATEWAY_SEQ, "out_of_range")


@pytest.mark.parametrize("name", ["pms5003", "sds011", "traffic_line"])
def test_bad_frames_are_rejected_not_raised(name: str) -> None:
    result = to_reading(CODECS[name], b"\x42\x4d\xaa\xc0$")
    assert isinstance(result, Rejected) and result.raw == b"\x42\x4d\xaa\xc0$"


def test_traffic_line_keeps_its_own_id_seq_and_time() -> None:
    body = b"TSC,tsc-9,41,1700000000000,intensity=4"
    frame = b"$" + body + b"*%02X\r\n" % traffic_line.checksum(body)
    reading = to_reading(CODECS["traffic_line"], frame, seq=7)
    assert isinstance(reading, Reading)
    assert (reading.sensor_id, reading.seq, reading.ts) == ("tsc-9", 41, 1_700_000_000_000_000_000)
    assert (reading.location, reading.received_ts, reading.quality) == (WHERE, RECEIVED, ())


def test_a_port_end_to_end() -> None:
    """What the gateway does per read: deframe, then a Reading or a dead letter per item."""
    codec = CODECS["pms5003"]
    good = pms5003.encode(PMS5003Frame(1, 2, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0))
    deframer = codec.deframer()
    items = deframer.feed(b"\xff\xfe" + good[:17]) + deframer.feed(good[17:] + good[:30] + good)
    items += deframer.flush()
    results = [
        to_reading(codec, i, seq=n) if isinstance(i, bytes) else i for n, i in enumerate(items)
    ]
    assert [r.reason.split(":")[0] if isinstance(r, Rejected) else r.seq for r in results] == [
        "garbage",
        1,
        "truncated",
        3,
    ]


@pytest.mark.parametrize("name", sorted(CODECS))
def test_hostile_streams_never_raise(name: str) -> None:
    """Frames at their extremes (every word 0xFFFF), damaged frames, garbage, other protocols'
    frames and $TSC lines with hostile values under a good checksum, read in arbitrary chunks:
    every frame becomes a sound Reading or a Rejected with a known code."""
    codec = CODECS[name]

    @SETTINGS
    @given(hostile(lambda rng: hostile_inputs.hostile_serial(rng, name)), st.data())
    def check(stream: bytes, data: st.DataObject) -> None:
        deframer = codec.deframer()
        items = [i for chunk in data.draw(split_points(stream)) for i in deframer.feed(chunk)]
        for seq, item in enumerate(items + deframer.flush()):
            if isinstance(item, Rejected):
                hostile_inputs.assert_sound(item)
            else:
                hostile_inputs.assert_sound(to_reading(codec, item, seq=seq))

    check()
