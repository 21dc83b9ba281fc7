"""Mosquitto from Debian's package, with the project's own configuration.

Two listeners: plain MQTT for local clients, and TLS with password authentication (a CA and
certificate made at `stack up`, the password file made by Debian's mosquitto_passwd).
"""

from __future__ import annotations

import getpass
import secrets
import subprocess
from pathlib import Path

from deploy import connections
from deploy.connections import Connections
from deploy.errors import StackError
from deploy.local import certs
from deploy.local.process import ManagedProcess, require_free_port, require_tool, wait_until
from deploy.probes import mqtt_connack

# Held QoS 1 acks (the gateway acks only after fsync) need a wide in-flight window, and an
# offline gateway's persistent session must be able to queue a long backlog. Per-listener
# settings, so the TLS listener can require a password while the plain one stays anonymous.
CONFIG = """\
per_listener_settings true
# Run as whoever started the stack (as root it would switch to "mosquitto" and lose the data dir).
user {user}
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

listener {port} {host}
protocol mqtt
allow_anonymous true

listener {tls_port} {host}
protocol mqtt
allow_anonymous false
password_file {passwd}
cafile {ca}
certfile {cert}
keyfile {key}
tls_version tlsv1.2
"""


class Mosquitto:
    name = "mosquitto"

    def __init__(self, run: Path, conn: Connections) -> None:
        self.dir = run / self.name
        self.host, self.port, self.tls_port = conn.mqtt.host, conn.mqtt.port, conn.mqtt.tls_port
        self.username = conn.mqtt.username
        # The stack's own files, whatever CITYGATE_MQTT__CA_FILE says about other brokers.
        self.tls = certs.TLSFiles((run / connections.MQTT_CA_FILE).parent)
        self.password_file = run / connections.MQTT_PASSWORD_FILE
        self.passwd = self.dir / "passwd"
        self.process = ManagedProcess(self.name, self.dir, marker="mosquitto.conf")

    def up(self) -> None:
        if self.process.alive():
            return
        binary = require_tool(self.name, "mosquitto", "install it with: apt-get install mosquitto")
        for port in (self.port, self.tls_port):
            require_free_port(self.name, self.host, port)
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        certs.ensure(self.tls.directory, list(dict.fromkeys([self.host, "127.0.0.1", "localhost"])))
        self._write_passwd()
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            CONFIG.format(
                host=self.host,
                port=self.port,
                tls_port=self.tls_port,
                data=data,
                user=getpass.getuser(),
                passwd=self.passwd,
                ca=self.tls.ca_cert,
                cert=self.tls.server_cert,
                key=self.tls.server_key,
            )
        )
        self.process.start([binary, "-c", str(conf)])
        wait_until(self.healthy, "an MQTT v5 CONNACK on both listeners", 20, self.process)

    def _write_passwd(self) -> None:
        """The TLS user's password (made once, kept for clients) and mosquitto's hashed file.

        mosquitto_passwd -U hashes a plain `user:password` file in place; -b would put the
        password on a command line, where any local user could read it.
        """
        if not self.password_file.exists():
            certs.write_secret(self.password_file, secrets.token_urlsafe(24).encode() + b"\n")
        tool = require_tool(
            self.name, "mosquitto_passwd", "it comes with Debian's mosquitto package"
        )
        plain = self.passwd.with_name(".passwd.new")
        certs.write_secret(plain, f"{self.username}:{self.password()}\n".encode())
        done = subprocess.run([tool, "-U", str(plain)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            plain.unlink(missing_ok=True)
            raise StackError(f"{self.name}: mosquitto_passwd -U failed: {done.stderr.strip()}")
        plain.chmod(0o600)
        plain.replace(self.passwd)

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def healthy(self) -> bool:
        if not (self.tls.ca_cert.exists() and self.password_file.exists()):
            return False  # a broker started before TLS existed: `stack down/up mosquitto`
        return mqtt_connack(self.host, self.port) and mqtt_connack(
            self.host,
            self.tls_port,
            ca_file=self.tls.ca_cert,
            username=self.username,
            password=self.password(),
        )

    def detail(self) -> str:
        return f"mqtt://{self.host}:{self.port}, mqtts://{self.host}:{self.tls_port} (password)"
