"""Gateway configuration: validation errors name key, value and expectation; env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.settings import ConfigError
from gateway.config import load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gateway_id: gw-1\njournal: {policy: sometimes}", "journal.policy = 'sometimes'"),
        ("gateway_id: gw-1\nmqtt: {qos: 2}", "mqtt.qos = 2"),
        ("gateway_id: 'bad id!'", "gateway_id = 'bad id!'"),
        ("gateway_id: gw-1\njournal: {policy: drop_oldest}", "needs drop_sensor_type"),
        ("gateway_id: gw-1\nkafak: {}", "kafak = {}"),
        ("- a list", "expected a mapping"),
        ("gateway_id: gw-1\nmqtt: {topics: ['city/#/x']}", "is not an MQTT topic filter"),
        ("gateway_id: gw-1\nmqtt: {topics: ['city/a+/x']}", "is not an MQTT topic filter"),
        ("gateway_id: gw-1\nmqtt: {topics: []}", "at least one topic filter"),
        ("gateway_id: gw-1\nmqtt: {max_payload_bytes: 100000}", "mqtt.max_payload_bytes"),
        ("gateway_id: gw-1\nmqtt: {reconnect_min_s: 5, reconnect_max_s: 1}", "reconnect_max_s"),
    ],
)
def test_invalid_values_are_named(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text), environ={})
    assert expected in str(err.value)


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    cfg = load(
        write(tmp_path, "gateway_id: gw-1\nkafka: {linger_ms: 5}"),
        environ={"CITYGATE__KAFKA__LINGER_MS": "20", "CITYGATE__MQTT__PORT": "2883"},
    )
    assert cfg.kafka.linger_ms == 20
    assert cfg.mqtt is not None and cfg.mqtt.port == 2883
    assert cfg.mqtt.client_id == "citygate-gw-1"  # fixed: the broker keeps the session


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read gateway config"):
        load(tmp_path / "nope.yaml", environ={})
