"""The gateway over the broker's TLS listener with a password, against the real stack: readings
reach Kafka, and a wrong password or an untrusted CA is reported, never a crash or a silent loop."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.connections import Connections
from deploy.local import certs
from edge import reading as reading_codec
from edge.topics import reading_topic
from tests.gateway.harness import (
    GatewayProcess,
    KafkaCollector,
    Publisher,
    air_readings,
    wait_for_log,
)

pytestmark = pytest.mark.integration
AIR = reading_topic("air_quality")


def tls_gateway(tmp_path: Path, conn: Connections, district: str, **changes: Any) -> GatewayProcess:
    """A gateway on the TLS port with the stack's CA and credentials, unless `changes` say
    otherwise (keys as in the YAML: password_file, ca_file)."""
    settings = {
        "password_file": conn.mqtt.password_file,
        "ca_file": conn.mqtt.ca_file,
        **changes,
    }
    return GatewayProcess(
        tmp_path,
        conn,
        district,
        {
            "mqtt.port": conn.mqtt.tls_port,
            "mqtt.username": conn.mqtt.username,
            "mqtt.password_file": str(settings["password_file"]),
            "mqtt.tls": {"ca_file": str(settings["ca_file"])},
        },
    )


def assert_reported_not_crashed(gw: GatewayProcess, secrets: list[str]) -> str:
    """The gateway keeps running, degraded, and has logged why it cannot connect."""
    line = wait_for_log(gw, "mqtt_connect_failed")
    deadline = time.monotonic() + 20
    while (log := gw.log.read_text()).count("event='mqtt_connect_failed'") < 2:
        # It retries with backoff (the broker may be fixed meanwhile) and says so every time.
        assert time.monotonic() < deadline, log[-3000:]
        assert gw.proc is not None and gw.proc.poll() is None, log[-3000:]
        time.sleep(0.2)
    assert "Traceback" not in log
    health = gw.health()
    assert health is not None
    assert health["status"] == "degraded" and health["mqtt_connected"] is False
    for secret in secrets:
        assert secret not in log
    assert gw.stop() == 0  # a clean stop: nothing crashed
    return line


def test_readings_reach_kafka_over_tls_with_a_password(
    tmp_path: Path, connections: Connections
) -> None:
    d = f"t{uuid.uuid4().hex[:10]}"
    password = Path(connections.mqtt.password_file).read_text().strip()
    collector = KafkaCollector(connections, [AIR])
    gw = tls_gateway(tmp_path, connections, d).start()
    pub = Publisher(connections)
    try:
        connected = wait_for_log(gw, "mqtt_connected")
        assert f"port={connections.mqtt.tls_port}" in connected
        sent = pub.readings(air_readings(d, sensors=20, per_sensor=50))
        pub.wait_acked(sent)
        prefix = f"{d}-".encode()
        got = collector.collect(
            lambda out: len({(r.key, reading_codec.decode(r.value).seq) for r in out}) >= sent,
            120,
            lambda r: bool(r.key and r.key.startswith(prefix)),
        )
        distinct = {(r.key, reading_codec.decode(r.value).seq) for r in got}
        assert len(distinct) == sent == 1000
    finally:
        pub.close()
        assert gw.stop() == 0
    assert password not in gw.log.read_text()


def test_a_wrong_password_is_reported_without_the_password(
    tmp_path: Path, connections: Connections
) -> None:
    real = Path(connections.mqtt.password_file).read_text().strip()
    wrong = f"wrong-{uuid.uuid4().hex}"
    secret = tmp_path / "mqtt.secret"
    certs.write_secret(secret, wrong.encode())
    gw = tls_gateway(tmp_path, connections, "tbadpw", password_file=secret)
    gw.start(wait_healthy=False)
    line = assert_reported_not_crashed(gw, [wrong, real])
    assert "level='error'" in line
    assert f"refused user '{connections.mqtt.username}'" in line
    assert "password_file" in line  # says what to check


def test_an_untrusted_ca_is_reported(tmp_path: Path, connections: Connections) -> None:
    other = certs.TLSFiles(tmp_path / "other-ca")
    certs.make_ca(other, "not the broker's CA")
    real = Path(connections.mqtt.password_file).read_text().strip()
    gw = tls_gateway(tmp_path, connections, "tbadca", ca_file=other.ca_cert)
    gw.start(wait_healthy=False)
    line = assert_reported_not_crashed(gw, [real])
    assert "level='error'" in line
    assert "is not trusted" in line and str(other.ca_cert) in line


def test_gateway_check_connects_the_way_the_gateway_does(
    tmp_path: Path, connections: Connections
) -> None:
    """`citygate gateway check` uses the configured TLS and credentials, and tells a refused
    login from a working one."""
    citygate = str(Path(sys.executable).with_name("citygate"))

    def check(folder: Path, **changes: Any) -> str:
        folder.mkdir()
        gw = tls_gateway(folder, connections, "tcheck", **changes)
        done = subprocess.run(
            [citygate, "gateway", "check", "--config", str(gw.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout + done.stderr

    good = check(tmp_path / "good")
    assert f"(TLS, user {connections.mqtt.username}): ok" in good
    wrong = tmp_path / "wrong.secret"
    certs.write_secret(wrong, b"not-the-password")
    bad = check(tmp_path / "bad", password_file=wrong)
    assert "unreachable or refused" in bad
    assert "not-the-password" not in bad
