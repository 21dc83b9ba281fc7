"""The camera family's catalog entry, topic and MQTT JSON codec: counts and health, no images."""

from __future__ import annotations

import json

import jsonschema
import msgspec
import pytest

from edge import mqtt_json, reading, topics
from edge.catalog import load_catalog
from edge.codec import Rejected
from edge.reading import Location, Reading
from edge.record_schemas import TOPIC_SCHEMAS, load_schema

CAMERA = load_catalog().sensor("camera")
TOPIC = "city/centro/camera/centro-cam-00001/telemetry"
GOOD = {
    "peopleCount": 12,
    "occupancy": 0.08,
    "averageCrowdSpeed": 4.6,
    "congested": False,
    "intensity_car": 7,
    "intensity_bus": 1,
    "intensity_bicycle": 2,
    "intensity_motorcycle": 0,
    "online": True,
    "frameRate": 25.0,
    "tamper": "none",
    "lowLight": False,
}


def _payload(fields: dict[str, object]) -> bytes:
    return json.dumps({"seq": 3, "ts": 1_700_000_000_000, "fields": fields}).encode()


def test_camera_is_a_catalog_type_with_its_own_topic() -> None:
    assert "camera" in topics.SENSOR_TYPES
    assert topics.reading_topic("camera") == "city.camera.v1"
    assert topics.PARTITIONS["city.camera.v1"] == 6
    assert CAMERA.fiware_model == "CrowdFlowObserved"


def test_vehicle_classes_are_a_group_and_tamper_states_are_closed() -> None:
    classes = sorted(n for n in CAMERA.fields if n.startswith("intensity_"))
    assert classes == [
        "intensity_bicycle",
        "intensity_bus",
        "intensity_car",
        "intensity_motorcycle",
    ]
    assert CAMERA.fields["tamper"].allowed == ("none", "moved", "obscured", "defocused")
    assert set(CAMERA.fields) == set(GOOD)  # aggregate counts and health only


def test_decode_a_camera_payload() -> None:
    decoded = mqtt_json.decode(TOPIC, _payload(GOOD), 5)
    assert isinstance(decoded, Reading)
    assert decoded.sensor_type == "camera" and decoded.fields == GOOD
    assert decoded.location == Location("centro")


def test_encode_round_trips() -> None:
    reading = Reading(
        sensor_id="centro-cam-00001",
        sensor_type="camera",
        seq=3,
        ts=1_700_000_000_000_000_000,
        fields=dict(GOOD),
        location=Location("centro"),
    )
    topic, payload = mqtt_json.encode(reading)
    assert topic == TOPIC
    decoded = mqtt_json.decode(topic, payload, 0)
    assert isinstance(decoded, Reading) and decoded.fields == GOOD


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"tamper": "sprayed"}, "bad_value"),  # a tamper state the catalog has no name for
        ({"peopleCount": 1.5}, "wrong_kind"),
        ({"faceId": "abc"}, "unknown_field"),  # nothing that identifies a person gets through
        ({"intensity_truck": 2}, "unknown_field"),
    ],
)
def test_bad_camera_fields_are_rejected(change: dict[str, object], code: str) -> None:
    decoded = mqtt_json.decode(TOPIC, _payload({**GOOD, **change}), 0)
    assert isinstance(decoded, Rejected) and decoded.code == code


def test_out_of_range_frame_rate_is_kept_and_flagged() -> None:
    decoded = mqtt_json.decode(TOPIC, _payload({**GOOD, "frameRate": 500.0}), 0)
    assert isinstance(decoded, Reading) and decoded.quality == ("out_of_range",)


def test_shipped_camera_readings_follow_the_reading_schema() -> None:
    assert TOPIC_SCHEMAS["city.camera.v1"] == "reading.v1"
    decoded = mqtt_json.decode(TOPIC, _payload(GOOD), 5)
    assert isinstance(decoded, Reading)
    shipped = msgspec.structs.replace(decoded, gateway_id="gw-centro")
    validator = jsonschema.Draft202012Validator(load_schema("reading.v1"))
    assert list(validator.iter_errors(json.loads(reading.encode(shipped)))) == []
