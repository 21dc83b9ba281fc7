"""Stack errors and connection settings: pure, no servers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy import connections
from deploy.local.process import StackError, require_free_port, require_tool


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
