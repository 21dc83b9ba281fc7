"""Where the MQTT broker, Kafka and InfluxDB are: the local stack's file, overridden by env.

`citygate stack up` writes the stack's settings to `<run dir>/connections.json`; a user with their
own servers sets the same keys as CITYGATE_ variables (CITYGATE_MQTT__HOST, CITYGATE_KAFKA__BOOTSTRAP,
CITYGATE_INFLUX__TOKEN or CITYGATE_INFLUX__TOKEN_FILE, ...; docs/configuration.md lists them).
Gateway and central take the same variables for their own keys and fill what is left unset here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from deploy import settings
from deploy.settings import Check, Secret, Section, Settings


class LocalStack(Settings, forbid_unknown_fields=False, frozen=True):
    """Where `citygate stack` keeps its servers' files; set by variables only."""

    # Data, logs and pid files of the running local stack; default ~/.local/state/citygate/run.
    run_dir: Path = msgspec.field(default_factory=lambda: Path.home() / ".local/state/citygate/run")
    # Downloads and builds that survive `stack down` (Kafka jars, the influxd binary); default
    # ~/.cache/citygate.
    cache: Path = msgspec.field(default_factory=lambda: Path.home() / ".cache/citygate")
    kafka_heap: Annotated[str, Meta(pattern=r"^\d+[kmg]$")] = "768m"  # the local Kafka's JVM heap


def local_stack() -> LocalStack:
    return settings.load(LocalStack, None, "local stack")


def cache_dir() -> Path:
    return local_stack().cache


def run_dir() -> Path:
    return local_stack().run_dir


# Where the local stack's Mosquitto keeps the CA that signed its TLS listener's certificate and
# the password of its TLS user, relative to the run directory.
MQTT_CA_FILE = Path("mosquitto", "tls", "ca.pem")
MQTT_PASSWORD_FILE = Path("mosquitto", "client.secret")


class _Shared(Section, forbid_unknown_fields=False, frozen=True):
    """The daemons' own sections of the same name hold more keys (their CITYGATE_ variables
    reach this schema too), and a file from a newer citygate may hold keys this one lacks."""


class MQTTConnection(_Shared, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 11883
    # the broker's TLS listener (password login)
    tls_port: Annotated[int, Meta(ge=1, le=65535)] = 11884
    # The CA of its certificate; default <run dir>/mosquitto/tls/ca.pem.
    ca_file: str = msgspec.field(default_factory=lambda: str(run_dir() / MQTT_CA_FILE))
    username: str = "citygate"  # the TLS listener's user
    # The TLS user's password; default <run dir>/mosquitto/client.secret.
    password_file: str = msgspec.field(default_factory=lambda: str(run_dir() / MQTT_PASSWORD_FILE))


class KafkaConnection(_Shared, frozen=True):
    bootstrap: str = "127.0.0.1:19092"


class InfluxConnection(_Shared, frozen=True):
    url: str = "http://127.0.0.1:18086"
    token: Secret = Secret("")  # written by `citygate stack up`
    # a file holding the token, instead of the variable
    token_file: Annotated[Path | None, Check(settings.readable_file)] = None
    org: str = "citygate"
    bucket: str = "city"


# connections.json as citygate wrote it before the sections (flat keys). It is read, so that a
# running stack's InfluxDB token survives the upgrade, and still written beside the sections,
# so that an older checkout sharing the same local stack keeps finding it.
_FLAT_KEYS = {
    f"{section}_{key}": (section, key)
    for section, keys in {
        "mqtt": ("host", "port", "tls_port", "ca_file", "username", "password_file"),
        "kafka": ("bootstrap",),
        "influx": ("url", "token", "org", "bucket"),
    }.items()
    for key in keys
}


def _from_flat_keys(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for flat, (section, key) in _FLAT_KEYS.items():
        if flat in out:
            out.setdefault(section, {}).setdefault(key, out.pop(flat))
    return out


class Connections(Settings, forbid_unknown_fields=False, frozen=True):
    mqtt: MQTTConnection = msgspec.field(default_factory=MQTTConnection)
    kafka: KafkaConnection = KafkaConnection()
    influx: InfluxConnection = InfluxConnection()

    def save(self, path: Path) -> None:
        """Write the stack's file (mode 0600: it holds the InfluxDB token)."""
        data = settings.to_builtins(self)
        del data["influx"]["token_file"]
        data.update({flat: data[section][key] for flat, (section, key) in _FLAT_KEYS.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)

    def with_influx(self, **update: object) -> Connections:
        return self.replace(influx=self.influx.replace(**update))


def connections_file() -> Path:
    return run_dir() / "connections.json"


def load(environ: Mapping[str, str] | None = None) -> Connections:
    """The local stack's settings if it wrote them, each overridden by its CITYGATE_ variable."""
    path = connections_file()
    return settings.load(
        Connections,
        path if path.exists() else None,
        "stack connections",
        environ=environ,
        secrets_in_file=True,  # the stack's own file, mode 0600
        prepare=_from_flat_keys,
    )
