#!/usr/bin/env bash
# Install the citygate gateway on Raspberry Pi OS (64-bit) as a systemd service.
# Usage (as root, from a checkout): bash deploy/pi/install.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-venv python3-dev
id citygate >/dev/null 2>&1 || useradd --system --home /var/lib/citygate --groups dialout citygate
install -d -o citygate -g citygate /var/lib/citygate
install -d /etc/citygate /opt/citygate
# Exactly the versions in uv.lock (aarch64 wheels included), the gateway's runtime only, compiled
# to bytecode now: the service's user cannot write __pycache__ here, and a gateway compiling its
# imports at every start holds about 6 MB more for it. uv is bootstrapped with pip at the version
# the lock pins for it.
uv_version=$(sed -n 's/.*"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)
python3 -m venv /opt/citygate/venv
/opt/citygate/venv/bin/pip install --disable-pip-version-check "uv==$uv_version"
UV_PROJECT_ENVIRONMENT=/opt/citygate/venv /opt/citygate/venv/bin/uv sync --locked --no-dev --no-editable --compile-bytecode
if [ ! -f /etc/citygate/gateway.yaml ]; then
  sed 's#path: run/gateway/journal#path: /var/lib/citygate/journal#' deploy/config/gateway.yaml \
    > /etc/citygate/gateway.yaml
  echo "wrote /etc/citygate/gateway.yaml: set gateway_id, mqtt and kafka for this district"
fi
# Secrets (CITYGATE_MQTT__PASSWORD=...) and overrides (CITYGATE_KAFKA__BOOTSTRAP=...) go here,
# readable by root only; docs/configuration.md lists every variable.
[ -f /etc/citygate/gateway.env ] || install -m 0600 /dev/null /etc/citygate/gateway.env
install -m 0644 deploy/pi/citygate-gateway.service /etc/systemd/system/citygate-gateway.service
systemctl daemon-reload
/opt/citygate/venv/bin/citygate gateway check --config /etc/citygate/gateway.yaml || \
  echo "check failed: fix /etc/citygate/gateway.yaml, then: systemctl enable --now citygate-gateway"
systemctl enable --now citygate-gateway
echo "citygate gateway installed; health: curl http://127.0.0.1:19180/healthz"
