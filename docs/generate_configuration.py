"""Write docs/configuration.md from the configuration schemas: `make docs`.

`python docs/generate_configuration.py --check` exits non-zero when the file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from central.config import CentralConfig
from central.dashboard.settings import DashboardConfig
from deploy.config_reference import Schema, render
from deploy.connections import Connections, LocalStack
from gateway.config import GatewayConfig

TARGET = Path(__file__).with_name("configuration.md")

SCHEMAS = (
    Schema(
        "Gateway (`citygate gateway run --config F`)",
        GatewayConfig,
        "`gateway/config.py`; the shipped file is `deploy/config/gateway.yaml`. Empty `mqtt.host`,"
        " `mqtt.port` and `kafka.bootstrap` come from the stack connections.",
    ),
    Schema(
        "Central consumers (`citygate central run --config F`)",
        CentralConfig,
        "`central/config.py`; the shipped file is `deploy/config/central.yaml`. Empty"
        " `kafka.bootstrap`, `influx.url`, `influx.org`, `influx.bucket` and an unset"
        " `influx.token` come from the stack connections.",
    ),
    Schema(
        "Dashboard (`citygate dashboard --config F`)",
        DashboardConfig,
        "`central/dashboard/settings.py`. The file holds a `dashboard:` section (or only its"
        " keys); `--host`, `--port`, `--aqi` and `--sites` override both. The option"
        " `--config` can also be given as `CITYGATE_DASHBOARD_CONFIG`. Without a token the"
        " dashboard is read-only. It reads InfluxDB and Kafka through the stack connections.",
    ),
    Schema(
        "Stack connections (`<run dir>/connections.json`)",
        Connections,
        "`deploy/connections.py`: where MQTT, Kafka and InfluxDB are, for every process and"
        " tool. `citygate stack up` writes the file (mode 0600, it holds the InfluxDB token);"
        " with your own servers set the variables instead. The `mqtt.tls_port`, `mqtt.ca_file`,"
        " `mqtt.username` and `mqtt.password_file` keys describe the broker's TLS listener.",
    ),
    Schema(
        "Local stack (`citygate stack up | down | status`)",
        LocalStack,
        "`deploy/connections.py`: variables only.",
    ),
)


def main() -> int:
    text = render(SCHEMAS)
    if "--check" in sys.argv[1:]:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
