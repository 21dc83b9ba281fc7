"""Stack errors and connection settings: pure, no servers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy import connections
from deploy.errors import StackError
from deploy.local.process import require_free_port, require_tool


def test_port_in_use_names_service_and_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError) as err:
            require_free_port("kafka", "127.0.0.1", port)
    message = str(err.value)
    assert message.startswith("kafka: port 127.0.0.1:") and str(port) in message
    assert "\n" not in message


def test_missing_tool_is_named() -> None:
    with pytest.raises(StackError, match=r"influxdb: 'no-such-go' not found on PATH"):
        require_tool("influxdb", "no-such-go", "install Go")


def test_environment_overrides_the_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    connections.Connections(influx_token="from-file", mqtt_port=1).save(
        tmp_path / "connections.json"
    )
    monkeypatch.setenv("CITYGATE_MQTT_PORT", "2883")
    monkeypatch.setenv("CITYGATE_KAFKA_BOOTSTRAP", "kafka.example:9092")
    conn = connections.load()
    assert (conn.mqtt_port, conn.kafka_bootstrap, conn.influx_token) == (
        2883,
        "kafka.example:9092",
        "from-file",
    )
    assert "from-file" not in repr(conn)


def test_tls_settings_default_to_the_stack_and_env_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    for var in connections.ENV.values():
        monkeypatch.delenv(var, raising=False)
    conn = connections.load()
    assert (conn.mqtt_tls_port, conn.mqtt_username) == (11884, "citygate")
    assert conn.mqtt_ca_file == str(tmp_path / "mosquitto" / "tls" / "ca.pem")
    assert conn.mqtt_password_file == str(tmp_path / "mosquitto" / "client.secret")

    conn.save(tmp_path / "connections.json")
    monkeypatch.setenv("CITYGATE_MQTT_TLS_PORT", "8883")
    monkeypatch.setenv("CITYGATE_MQTT_CA_FILE", "/etc/citygate/ca.pem")
    monkeypatch.setenv("CITYGATE_MQTT_USERNAME", "gw-north")
    monkeypatch.setenv("CITYGATE_MQTT_PASSWORD_FILE", "/etc/citygate/mqtt.secret")
    conn = connections.load()
    assert (conn.mqtt_tls_port, conn.mqtt_ca_file, conn.mqtt_username) == (
        8883,
        "/etc/citygate/ca.pem",
        "gw-north",
    )
    assert conn.mqtt_password_file == "/etc/citygate/mqtt.secret"


def test_a_stack_file_with_unknown_or_missing_keys_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    for var in connections.ENV.values():
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "connections.json").write_text('{"mqtt_port": 2883, "from_the_future": 1}')
    conn = connections.load()
    assert (conn.mqtt_port, conn.mqtt_tls_port) == (2883, 11884)
