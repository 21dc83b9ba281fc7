"""Where the MQTT broker, Kafka and InfluxDB are: the local stack's file, overridden by env.

`citygate stack up` writes the stack's settings to `<run dir>/connections.json`; a user with their
own servers sets CITYGATE_MQTT_HOST, CITYGATE_MQTT_PORT, CITYGATE_KAFKA_BOOTSTRAP,
CITYGATE_INFLUX_URL, CITYGATE_INFLUX_TOKEN, CITYGATE_INFLUX_ORG and CITYGATE_INFLUX_BUCKET, and for
the broker's TLS listener CITYGATE_MQTT_TLS_PORT, CITYGATE_MQTT_CA_FILE, CITYGATE_MQTT_USERNAME and
CITYGATE_MQTT_PASSWORD_FILE (a file holding the password, never the password itself).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path


def cache_dir() -> Path:
    """Downloads and builds that survive `stack down` (Kafka jars, the influxd binary)."""
    return Path(os.environ.get("CITYGATE_CACHE", Path.home() / ".cache" / "citygate"))


def run_dir() -> Path:
    """Data, logs and pid files of the running local stack."""
    default = Path.home() / ".local" / "state" / "citygate" / "run"
    return Path(os.environ.get("CITYGATE_RUN_DIR", default))


# Where the local stack's Mosquitto keeps the CA that signed its TLS listener's certificate and
# the password of its TLS user, relative to the run directory.
MQTT_CA_FILE = Path("mosquitto", "tls", "ca.pem")
MQTT_PASSWORD_FILE = Path("mosquitto", "client.secret")


@dataclass(frozen=True)
class Connections:
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 11883
    mqtt_tls_port: int = 11884
    mqtt_ca_file: str = field(default_factory=lambda: str(run_dir() / MQTT_CA_FILE))
    mqtt_username: str = "citygate"
    mqtt_password_file: str = field(default_factory=lambda: str(run_dir() / MQTT_PASSWORD_FILE))
    kafka_bootstrap: str = "127.0.0.1:19092"
    influx_url: str = "http://127.0.0.1:18086"
    influx_token: str = ""
    influx_org: str = "citygate"
    influx_bucket: str = "city"

    def __repr__(self) -> str:  # never print the token
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "influx_token"}
        return f"Connections({shown}, influx_token={'set' if self.influx_token else 'unset'})"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)


ENV = {
    "mqtt_host": "CITYGATE_MQTT_HOST",
    "mqtt_port": "CITYGATE_MQTT_PORT",
    "mqtt_tls_port": "CITYGATE_MQTT_TLS_PORT",
    "mqtt_ca_file": "CITYGATE_MQTT_CA_FILE",
    "mqtt_username": "CITYGATE_MQTT_USERNAME",
    "mqtt_password_file": "CITYGATE_MQTT_PASSWORD_FILE",
    "kafka_bootstrap": "CITYGATE_KAFKA_BOOTSTRAP",
    "influx_url": "CITYGATE_INFLUX_URL",
    "influx_token": "CITYGATE_INFLUX_TOKEN",
    "influx_org": "CITYGATE_INFLUX_ORG",
    "influx_bucket": "CITYGATE_INFLUX_BUCKET",
}


def connections_file() -> Path:
    return run_dir() / "connections.json"


def load() -> Connections:
    """The local stack's settings if it wrote them, each overridden by its environment variable."""
    conn = Connections()
    path = connections_file()
    if path.exists():
        # Keys this version does not know (a file from a newer citygate) are ignored.
        known = {f.name for f in fields(Connections)}
        saved = json.loads(path.read_text())
        conn = Connections(**{k: v for k, v in saved.items() if k in known})
    overrides: dict[str, object] = {}
    for name, var in ENV.items():
        if var in os.environ:
            value = os.environ[var]
            overrides[name] = int(value) if name in ("mqtt_port", "mqtt_tls_port") else value
    return replace(conn, **overrides)  # type: ignore[arg-type]
