"""Mosquitto from Debian's package, with the project's own configuration."""

from __future__ import annotations

import getpass
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from deploy.connections import Connections
from deploy.local.process import ManagedProcess, require_free_port, require_tool, wait_until

# Held QoS 1 acks (the gateway acks only after fsync) need a wide in-flight window, and an
# offline gateway's persistent session must be able to queue a long backlog.
CONFIG = """\
per_listener_settings false
# Run as whoever started the stack (as root it would switch to "mosquitto" and lose the data dir).
user {user}
listener {port} {host}
protocol mqtt
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 30
max_inflight_messages 0
max_queued_messages 2000000
max_queued_bytes 0
max_packet_size 1048576
persistent_client_expiration 7d
log_dest stdout
log_type error
log_type warning
log_type notice
log_timestamp_format %Y-%m-%dT%H:%M:%S
"""


class Mosquitto:
    name = "mosquitto"

    def __init__(self, run: Path, conn: Connections) -> None:
        self.dir = run / self.name
        self.host, self.port = conn.mqtt_host, conn.mqtt_port
        self.process = ManagedProcess(self.name, self.dir, marker="mosquitto.conf")

    def up(self) -> None:
        if self.process.alive():
            return
        binary = require_tool(self.name, "mosquitto", "install it with: apt-get install mosquitto")
        require_free_port(self.name, self.host, self.port)
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            CONFIG.format(host=self.host, port=self.port, data=data, user=getpass.getuser())
        )
        self.process.start([binary, "-c", str(conf)])
        wait_until(self.healthy, "an MQTT v5 CONNACK", 20, self.process)

    def healthy(self) -> bool:
        return mqtt_connack(self.host, self.port)

    def detail(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def mqtt_connack(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when the broker answers an MQTT v5 CONNECT with a successful CONNACK."""
    done = threading.Event()
    ok: list[bool] = []

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        ok.append(not getattr(rc, "is_failure", False))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=5)
    except OSError:
        return False
    client.loop_start()
    try:
        return done.wait(timeout) and all(ok)
    finally:
        client.disconnect()
        client.loop_stop()
