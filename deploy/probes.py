"""Can this machine reach the broker and Kafka a configuration names? `citygate gateway check`
asks on a Raspberry Pi, where the local stack's modules (and the TLS certificate library they
need) are not installed; the local stack asks too, while its services start."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def mqtt_connack(
    host: str,
    port: int,
    timeout: float = 3.0,
    *,
    tls: bool = False,
    ca_file: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bool:
    """True when the broker answers an MQTT v5 CONNECT with a successful CONNACK (over TLS
    when `tls` or `ca_file` is given, verified against `ca_file` or the system's CA store)."""
    done = threading.Event()
    ok: list[bool] = []

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        ok.append(not getattr(rc, "is_failure", False))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.on_connect = on_connect
    if username is not None:
        client.username_pw_set(username, password)
    if tls or ca_file is not None:
        client.tls_set(ca_certs=str(ca_file) if ca_file is not None else None)
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


async def metadata_ok(bootstrap: str) -> bool:
    # Connection refusals while the broker boots are expected; keep them out of the output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()
