"""Router: every input becomes exactly one record, and no input, however hostile, raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog

from edge import deadletter, mqtt_json
from edge import reading as reading_codec
from edge.serial_codecs import CODECS
from edge.topics import DEADLETTER, reading_topic
from gateway import routing
from gateway.config import SerialPort
from gateway.metrics import GatewayMetrics
from gateway.routing import Router
from gateway.sources import Inbound
from gateway.state import GatewayState, SerialSeqs

TOPIC = "city/nord/air_quality/aq-1/telemetry"
GOOD = b'{"seq":1,"ts":1700000000000,"fields":{"pm25":12.5}}'
POISON = b'{"a":' * 1000 + b"1" + b"}" * 1000  # issue 10: RecursionError in the decoder before
PORT = SerialPort(port="/dev/ttyUSB0", codec="pms5003", sensor_id="pm-1", district="nord")


def mqtt(payload: bytes) -> Inbound:
    return Inbound("mqtt", TOPIC, payload, 1_700_000_000_000_000_000)


def letter(record: Any) -> deadletter.DeadLetter:
    assert record.topic == DEADLETTER
    return deadletter.decode(record.value)


def test_a_poison_message_is_one_dead_letter_between_good_readings() -> None:
    records = Router("gw-1", GatewayMetrics()).route([mqtt(GOOD), mqtt(POISON), mqtt(GOOD)])
    air = reading_topic("air_quality")
    assert [r.topic for r in records] == [air, DEADLETTER, air]
    dl = letter(records[1])
    assert (dl.code, dl.source, dl.origin, dl.size) == ("too_deep", "mqtt", TOPIC, len(POISON))
    assert reading_codec.decode(records[2].value).fields == {"pm25": 12.5}


def _raise(*_: object, **__: object) -> Any:
    raise RecursionError("maximum recursion depth exceeded")


class _BrokenCodec:
    """A serial codec with a bug: it raises instead of returning Rejected."""

    name = "pms5003"
    sensor_type = "air_quality"
    deframer = CODECS["pms5003"].deframer
    to_reading = staticmethod(_raise)


def test_a_decoder_that_raises_costs_one_dead_letter_and_one_log_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mqtt_json, "decode_stamped", _raise)
    monkeypatch.setitem(CODECS, "pms5003", _BrokenCodec())
    metrics = GatewayMetrics()
    router = Router("gw-1", metrics, [PORT], SerialSeqs(GatewayState.load(tmp_path)))
    serial = Inbound("serial", PORT.port, b"BM" + bytes(30), 1)
    with structlog.testing.capture_logs() as logs:
        records = router.route([mqtt(GOOD), mqtt(POISON), serial])
    letters = [letter(r) for r in records]
    assert [(dl.code, dl.source) for dl in letters] == [
        ("decoder_error", "mqtt"),
        ("decoder_error", "mqtt"),
        ("decoder_error", "serial"),
    ]
    assert all(dl.reason.startswith("decoder_error: RecursionError") for dl in letters)
    assert letters[1].raw == POISON[: deadletter.RAW_CAP]
    # One line names the source, origin, exception type and size; the next ones within the
    # window are counted into the following line instead of flooding the log.
    assert logs == [
        {
            "event": "decoder_error",
            "log_level": "error",
            "source": "mqtt",
            "origin": TOPIC,
            "error_type": "RecursionError",
            "error": "maximum recursion depth exceeded",
            "payload_bytes": len(GOOD),
            "unlogged_since_last": 0,
        }
    ]
    count = metrics.registry.get_sample_value(
        "citygate_gateway_deadletters_total", {"source": "mqtt", "reason": "decoder_error"}
    )
    assert count == 2


def test_the_log_window_reopens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt_json, "decode_stamped", _raise)
    clock = iter([1000.0, 1001.0, 1002.0, 1000.0 + routing.DECODER_ERROR_LOG_S])
    monkeypatch.setattr(routing.time, "monotonic", lambda: next(clock))
    router = Router("gw-1", GatewayMetrics())
    with structlog.testing.capture_logs() as logs:
        router.route([mqtt(GOOD)] * 4)
    assert [line["unlogged_since_last"] for line in logs] == [0, 2]


def test_a_reading_from_a_device_whose_clock_is_off_is_a_counted_dead_letter() -> None:
    metrics = GatewayMetrics()
    reset = b'{"seq":1,"ts":5000,"fields":{"pm25":12.5}}'  # an RTC back at 1970
    records = Router("gw-1", metrics).route([mqtt(GOOD), mqtt(reset)])
    assert records[0].topic == reading_topic("air_quality")
    dead = letter(records[1])
    assert dead.reason.startswith("bad_timestamp:") and dead.raw == reset
    count = metrics.registry.get_sample_value(
        "citygate_gateway_deadletters_total", {"source": "mqtt", "reason": "bad_timestamp"}
    )
    assert count == 1
    # Replaying old data on purpose: the window is the gateway's setting.
    assert Router("gw-1", metrics, clock=None).route([mqtt(reset)])[0].topic != DEADLETTER
