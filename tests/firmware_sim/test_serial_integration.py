"""Simulator -> pseudo-terminal -> pyserial -> edge deframer and codec, for every serial codec."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import serial

from edge.codec import Rejected
from edge.reading import Reading
from edge.serial_codecs import CODECS
from firmware_sim import Simulator
from firmware_sim.pty_ports import PtyBank

from .helpers import scenario

pytestmark = pytest.mark.integration

_ABBR = {"air_quality": "aq", "traffic_signal": "ts"}
CODEC_TYPE = {"pms5003": "air_quality", "sds011": "air_quality", "traffic_line": "traffic_signal"}


def _read(port: serial.Serial, codec: str, seconds: float) -> list[Reading | Rejected]:
    deframer = CODECS[codec].deframer()
    out: list[Reading | Rejected] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for frame in deframer.feed(port.read(4096)):
            if isinstance(frame, Rejected):
                out.append(frame)
                continue
            out.append(
                CODECS[codec].to_reading(
                    frame, sensor_id="x", location=None, seq=len(out), received_ts=1
                )
            )
    return out


@pytest.mark.parametrize("codec", ["pms5003", "sds011", "traffic_line"])
def test_frames_cross_a_real_pty_and_decode(tmp_path: Path, codec: str) -> None:
    sensor_type = CODEC_TYPE[codec]
    s = scenario(
        air=2 if sensor_type == "air_quality" else 0,
        traffic=2 if sensor_type == "traffic_signal" else 0,
        transport={"kind": "serial", "codec": codec},
        faults=[
            {"type": "malformed", "sensor": f"centro-{_ABBR[sensor_type]}-00002", "duration": 100}
        ],
    )
    sim = Simulator(s)
    bank = PtyBank(tmp_path / "tty")
    bank.open({d.index: d.sensor_id for d in sim.fleet.devices})
    try:
        good_link, bad_link = (bank.ports[i].link for i in sorted(bank.ports))
        assert os.path.islink(good_link) and os.readlink(good_link).startswith("/dev/pts/")
        good = serial.Serial(str(good_link), 9600, timeout=0.05)
        bad = serial.Serial(str(bad_link), 9600, timeout=0.05)
        sent: list[bytes] = []
        for k in range(30):
            batch = sim.step(k)
            sent.extend(f for i, f in batch.serial if i == 0)
            bank.write_many(batch.serial)
        clean = _read(good, codec, 0.5)
        broken = _read(bad, codec, 0.5)
        good.close()
        bad.close()
    finally:
        bank.close()
    assert len(clean) == len(sent) == 3
    assert all(isinstance(r, Reading) and r.sensor_type == sensor_type for r in clean)
    first = clean[0]
    assert isinstance(first, Reading)
    if sensor_type == "air_quality":
        pm25, pm10 = float(first.fields["pm25"]), float(first.fields["pm10"])
        assert pm25 > 0 and pm10 >= pm25
    else:
        assert first.fields["phase_N"] in ("red", "amber", "green")
    assert broken and any(isinstance(r, Rejected) for r in broken)
    assert not any(isinstance(r, Reading) and r.fields == {} for r in broken)


def test_unplug_closes_the_line_and_replug_reuses_the_path(tmp_path: Path) -> None:
    bank = PtyBank(tmp_path / "tty")
    bank.open({0: "dev-1"})
    link = bank.ports[0].link
    reader = serial.Serial(str(link), timeout=0.2)
    bank.write_many([(0, b"hello")])
    assert reader.read(5) == b"hello"
    bank.unplug(0)
    assert not link.exists()
    with pytest.raises(serial.SerialException):
        reader.read(1)  # the line hung up
    reader.close()
    bank.replug(0)
    assert link.is_symlink() and os.readlink(link).startswith("/dev/pts/")
    again = serial.Serial(str(link), timeout=0.2)
    bank.write_many([(0, b"back")])
    assert again.read(4) == b"back"
    again.close()
    bank.close()
