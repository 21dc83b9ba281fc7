"""Gateway configuration: validation errors name key, value and expectation; env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.connections import Connections
from deploy.connections import load as connections_load
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
        ("gateway_id: gw-1\nkafak: {}", "kafak = {}: not a known key"),
        ("gateway_id: gw-1\nmqtt: {password: pw}", "mqtt.password = <hidden>: a secret"),
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
        environ={"CITYGATE_KAFKA__LINGER_MS": "20", "CITYGATE_MQTT__PORT": "2883"},
    )
    assert cfg.kafka.linger_ms == 20
    assert cfg.mqtt is not None and cfg.mqtt.port == 2883
    assert cfg.mqtt.client_id == "citygate-gw-1"  # fixed: the broker keeps the session


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read gateway config"):
        load(tmp_path / "nope.yaml", environ={})


def test_the_password_comes_from_a_variable_or_a_file_and_is_never_shown(tmp_path: Path) -> None:
    config = write(tmp_path, "gateway_id: gw-1\nmqtt: {username: gw}")
    cfg = load(config, environ={"CITYGATE_MQTT__PASSWORD": "from-env"})
    assert cfg.mqtt is not None and cfg.mqtt.login_password() == "from-env"
    assert "from-env" not in repr(cfg)
    secret = tmp_path / "mqtt.secret"
    secret.write_text("from-file\n")
    cfg = load(config, environ={"CITYGATE_MQTT__PASSWORD_FILE": str(secret)})
    assert cfg.mqtt is not None and cfg.mqtt.login_password() == "from-file"
    with pytest.raises(ConfigError, match=r"mqtt.password_file = .*nope.*readable file"):
        load(config, environ={"CITYGATE_MQTT__PASSWORD_FILE": str(tmp_path / "nope")})


def test_stack_connection_variables_the_gateway_lacks_are_not_errors(tmp_path: Path) -> None:
    cfg = load(
        write(tmp_path, "gateway_id: gw-1"),
        environ={"CITYGATE_MQTT__TLS_PORT": "8883", "CITYGATE_KAFKA__BOOTSTRAP": "k:9092"},
    )
    assert cfg.kafka.bootstrap == "k:9092"
    with pytest.raises(ConfigError, match=r"mqtt.colour = 'red' \(from CITYGATE_MQTT__COLOUR\)"):
        load(write(tmp_path, "gateway_id: gw-1"), environ={"CITYGATE_MQTT__COLOUR": "red"})


def test_unset_connection_keys_come_from_the_stack_file_and_one_variable_sets_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    stack = Connections()
    stack.replace(
        mqtt=stack.mqtt.replace(host="broker.stack", port=2883),
        kafka=stack.kafka.replace(bootstrap="kafka.stack:9092"),
    ).save(tmp_path / "connections.json")
    config = write(tmp_path, "gateway_id: gw-1")
    cfg = load(config, environ={})
    assert cfg.mqtt is not None and (cfg.mqtt.host, cfg.mqtt.port) == ("broker.stack", 2883)
    assert cfg.kafka.bootstrap == "kafka.stack:9092"
    cfg = load(config, environ={"CITYGATE_KAFKA__BOOTSTRAP": "kafka.own:9092"})
    assert cfg.kafka.bootstrap == "kafka.own:9092"
    assert connections_load({"CITYGATE_KAFKA__BOOTSTRAP": "kafka.own:9092"}).kafka.bootstrap == (
        "kafka.own:9092"
    )
