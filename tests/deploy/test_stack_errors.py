"""Stack errors and connection settings: pure, no servers."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from deploy import connections
from deploy.errors import StackError
from deploy.local.process import require_free_port, require_tool
from deploy.settings import Secret


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


def _no_citygate_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("CITYGATE_") and v != "CITYGATE_RUN_DIR"]:
        monkeypatch.delenv(var)


def test_environment_overrides_the_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_citygate_variables(monkeypatch)
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    saved = connections.Connections().with_influx(token=Secret("from-file"))
    saved.replace(mqtt=saved.mqtt.replace(port=1)).save(tmp_path / "connections.json")
    monkeypatch.setenv("CITYGATE_MQTT__PORT", "2883")
    monkeypatch.setenv("CITYGATE_KAFKA__BOOTSTRAP", "kafka.example:9092")
    conn = connections.load()
    assert (conn.mqtt.port, conn.kafka.bootstrap, conn.influx.token.get_secret_value()) == (
        2883,
        "kafka.example:9092",
        "from-file",
    )
    assert "from-file" not in repr(conn)


def test_tls_settings_default_to_the_stack_and_env_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_citygate_variables(monkeypatch)
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    conn = connections.load()
    assert (conn.mqtt.tls_port, conn.mqtt.username) == (11884, "citygate")
    assert conn.mqtt.ca_file == str(tmp_path / "mosquitto" / "tls" / "ca.pem")
    assert conn.mqtt.password_file == str(tmp_path / "mosquitto" / "client.secret")

    conn.save(tmp_path / "connections.json")
    monkeypatch.setenv("CITYGATE_MQTT__TLS_PORT", "8883")
    monkeypatch.setenv("CITYGATE_MQTT__CA_FILE", "/etc/citygate/ca.pem")
    monkeypatch.setenv("CITYGATE_MQTT__USERNAME", "gw-north")
    monkeypatch.setenv("CITYGATE_MQTT__PASSWORD_FILE", "/etc/citygate/mqtt.secret")
    conn = connections.load()
    assert (conn.mqtt.tls_port, conn.mqtt.ca_file, conn.mqtt.username) == (
        8883,
        "/etc/citygate/ca.pem",
        "gw-north",
    )
    assert conn.mqtt.password_file == "/etc/citygate/mqtt.secret"


def test_a_stack_file_with_unknown_or_missing_keys_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_citygate_variables(monkeypatch)
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    (tmp_path / "connections.json").write_text(
        '{"mqtt": {"port": 2883, "from_the_future": 1}, "grpc": {}}'
    )
    conn = connections.load()
    assert (conn.mqtt.port, conn.mqtt.tls_port) == (2883, 11884)


def test_the_stack_file_keeps_the_token_and_only_its_owner_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_citygate_variables(monkeypatch)
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    path = tmp_path / "connections.json"
    connections.Connections().with_influx(token=Secret("t0k")).save(path)
    assert json.loads(path.read_text())["influx"]["token"] == "t0k"
    assert json.loads(path.read_text())["influx_token"] == "t0k"  # for older checkouts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_stack_file_of_an_older_citygate_still_gives_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_citygate_variables(monkeypatch)
    monkeypatch.setenv("CITYGATE_RUN_DIR", str(tmp_path))
    (tmp_path / "connections.json").write_text('{"mqtt_port": 2883, "influx_token": "old"}')
    conn = connections.load()
    assert (conn.mqtt.port, conn.influx.token.get_secret_value()) == (2883, "old")
