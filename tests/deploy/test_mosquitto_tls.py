"""Mosquitto's TLS listener with password authentication, against the real broker."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from deploy.connections import Connections, MQTTConnection
from deploy.local.mosquitto import Mosquitto
from deploy.probes import mqtt_connack

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _password(conn: Connections) -> str:
    return Path(conn.mqtt.password_file).read_text().strip()


def test_tls_listener_takes_the_stack_user_only(connections: Connections) -> None:
    host, port, ca = (
        connections.mqtt.host,
        connections.mqtt.tls_port,
        Path(connections.mqtt.ca_file),
    )
    user, password = connections.mqtt.username, _password(connections)
    assert mqtt_connack(host, port, ca_file=ca, username=user, password=password)
    assert not mqtt_connack(host, port, ca_file=ca)  # no anonymous clients over TLS
    assert not mqtt_connack(host, port, ca_file=ca, username=user, password=password + "x")
    assert not mqtt_connack(host, port)  # plain MQTT is not spoken there
    assert mqtt_connack(host, connections.mqtt.port)  # the plain listener stays anonymous


def test_secrets_are_owner_only_and_the_broker_keeps_a_hash(connections: Connections) -> None:
    secret = Path(connections.mqtt.password_file)
    tls = Path(connections.mqtt.ca_file).parent
    passwd = secret.parent / "passwd"
    for path in (secret, passwd, tls / "ca.key", tls / "server.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    user, hashed = passwd.read_text().strip().split(":", 1)
    assert user == connections.mqtt.username
    assert hashed.startswith("$7$")  # mosquitto_passwd's sha512-pbkdf2
    assert _password(connections) not in passwd.read_text()


def test_a_fresh_run_directory_gets_certificates_and_both_listeners(tmp_path: Path) -> None:
    conn = Connections(mqtt=MQTTConnection(port=_free_port(), tls_port=_free_port()))
    broker = Mosquitto(tmp_path, conn)
    try:
        broker.up()  # waits for a CONNACK on both listeners
        assert broker.tls.ca_cert.exists() and broker.password_file.exists()
        ca = broker.tls.ca_cert.read_bytes()
        broker.process.stop()
        broker.up()  # a restart keeps the CA and the password clients already have
        assert broker.tls.ca_cert.read_bytes() == ca
        assert mqtt_connack(
            "127.0.0.1",
            conn.mqtt.tls_port,
            ca_file=broker.tls.ca_cert,
            username=conn.mqtt.username,
            password=broker.password(),
        )
    finally:
        broker.process.stop()
