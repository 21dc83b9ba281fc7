"""The JSON Schemas of the Kafka records, checked against records citygate really encodes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import given

from edge import deadletter, mqtt_json, reading, topics, traffic_line
from edge.deadletter import DeadLetter
from edge.errors import SchemaNotFound
from edge.messages import Alert, GatewayStatus
from edge.reading import Reading
from edge.record_schemas import TOPIC_SCHEMAS, load_schema, names
from edge.serial_codecs import CODECS
from tests.edge.strategies import READING_SETTINGS, readings

VALIDATORS = {name: jsonschema.Draft202012Validator(load_schema(name)) for name in names()}


def errors(name: str, record: Any) -> list[str]:
    return [e.message for e in VALIDATORS[name].iter_errors(record)]


def test_every_schema_is_valid_draft_2020_12() -> None:
    assert names() == ["alert.v1", "deadletter.v1", "gateway-status.v1", "reading.v1"]
    for name in names():
        schema = load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(name)


def test_every_topic_has_a_schema() -> None:
    assert set(TOPIC_SCHEMAS) == set(topics.PARTITIONS)
    assert set(TOPIC_SCHEMAS.values()) == set(names())


def test_unknown_schema() -> None:
    with pytest.raises(SchemaNotFound, match=r"known: alert\.v1, deadletter\.v1"):
        load_schema("reading.v2")


@READING_SETTINGS
@given(readings(max_fields=8))
def test_readings_as_the_gateway_ships_them(device: Reading) -> None:
    topic, payload = mqtt_json.encode(device)
    decoded = mqtt_json.decode(topic, payload, 1_700_000_000_000_000_000)
    assert isinstance(decoded, Reading)
    shipped = msgspec.structs.replace(decoded, gateway_id="gw-nord", quality=("clock_skew",))
    assert errors("reading.v1", json.loads(reading.encode(shipped))) == []
    # The bare device reading, with every default member left out, is valid too.
    assert errors("reading.v1", json.loads(reading.encode(device))) == []


def test_serial_readings() -> None:
    body = b"TSC,tsc-1,1,2,intensity=3,phase_N=red,conflictMonitor=1"
    line = b"$" + body + b"*%02X\r\n" % traffic_line.checksum(body)
    result = CODECS["traffic_line"].to_reading(
        line, sensor_id="x", location=None, seq=0, received_ts=5
    )
    assert isinstance(result, Reading)
    assert errors("reading.v1", json.loads(reading.encode(result))) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seq": -1}, "-1 is less than the minimum of 0"),
        ({"fields": {"pm25": [1]}}, "[1] is not of type 'number', 'string', 'boolean'"),
        ({"location": {"latitude": 1.0}}, "'district' is a required property"),
        ({"extra": 1}, "Additional properties are not allowed ('extra' was unexpected)"),
    ],
)
def test_reading_schema_refuses(change: dict[str, Any], message: str) -> None:
    record = {
        "sensor_id": "a",
        "sensor_type": "air_quality",
        "seq": 1,
        "ts": 2,
        "fields": {"pm25": 1.0},
    }
    assert message in errors("reading.v1", record | change)


def test_dead_letters() -> None:
    for raw in (b"", b"\xff" * 5000):
        dl = DeadLetter.capped(
            reason="oversize: 70000 bytes > 65536", source="serial", origin="/dev/ttyAMA0",
            raw=raw, received_ts=3, gateway_id="gw",
        )  # fmt: skip
        assert errors("deadletter.v1", json.loads(deadletter.encode(dl))) == []
    bad = json.loads(deadletter.encode(dl)) | {"reason": "no code here"}
    assert errors("deadletter.v1", bad) == ["'no code here' does not match '^[a-z_]+: '"]


STATUS = {
    "gateway_id": "gw-nord",
    "ts": 1_700_000_000_000_000_000,
    "uptime_s": 3600.5,
    "figures": {
        "journal_bytes": 1024,
        "mqtt": {"received": 10, "deadletters": 1},
        "kafka_up": True,
    },
}


def test_gateway_status() -> None:
    assert errors("gateway-status.v1", STATUS) == []
    assert errors("gateway-status.v1", STATUS | {"uptime_s": -1}) == [
        "-1 is less than the minimum of 0"
    ]
    assert errors("gateway-status.v1", {k: v for k, v in STATUS.items() if k != "figures"}) == [
        "'figures' is a required property"
    ]


ALERT = {
    "alert_id": "aq-0001:stuck:1700000000000000000",
    "sensor_id": "aq-0001",
    "sensor_type": "air_quality",
    "district": "centrum",
    "type": "stuck",
    "severity": "warning",
    "state": "raised",
    "start": 1_700_000_000_000_000_000,
    "end": None,
    "value": 12.5,
    "explanation": "pm25 has read 12.5 for 40 readings in a row",
    "seq": 1041,
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"state": "cleared", "end": 1_700_000_600_000_000_000},
        {"type": "silent", "value": None, "seq": None, "severity": "critical"},
        {"value": "stuck_on"},
    ],
)
def test_alerts(change: dict[str, Any]) -> None:
    assert errors("alert.v1", ALERT | change) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "fatal"}, "'fatal' is not one of ['info', 'warning', 'critical']"),
        ({"state": "open"}, "'open' is not one of ['raised', 'cleared']"),
        ({"end": "later"}, "'later' is not of type 'integer', 'null'"),
    ],
)
def test_alert_schema_refuses(change: dict[str, Any], message: str) -> None:
    assert errors("alert.v1", ALERT | change) == [message]


def test_alert_needs_every_member() -> None:
    record = {k: v for k, v in ALERT.items() if k != "end"}
    assert errors("alert.v1", record) == ["'end' is a required property"]


@pytest.mark.parametrize("seq", [1041, None])
def test_the_alert_struct_encodes_what_its_schema_allows(seq: int | None) -> None:
    alert = Alert(
        alert_id="aq-1:stuck:1",
        sensor_id="aq-1",
        sensor_type="air_quality",
        district="centro",
        type="flatline",
        severity="warning",
        state="raised",
        start=1,
        end=None,
        value=3.5,
        explanation="the same value for 12 readings",
        seq=seq,
    )
    record = json.loads(msgspec.json.encode(alert))
    assert errors("alert.v1", record) == []
    assert msgspec.json.decode(msgspec.json.encode(alert), type=Alert) == alert


def test_the_gateway_status_struct_encodes_what_its_schema_allows() -> None:
    beat = GatewayStatus("gw-1", 1_700_000_000_000_000_000, 12.5, {"messages_in": 3})
    assert errors("gateway-status.v1", json.loads(msgspec.json.encode(beat))) == []
