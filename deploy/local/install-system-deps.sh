#!/usr/bin/env bash
# Install the Debian packages the local stack needs and check the toolchains that build it.
# Idempotent: installs only what is missing. Go and Rust (cargo) must already be present.
set -euo pipefail

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
# mosquitto_pub: the poison-message test publishes with Debian's own client, not ours.
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v gcc >/dev/null || need+=(build-essential)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
  # Debian's package starts its own broker on 1883; citygate runs its own on another port.
  $sudo systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

for tool in go cargo; do
  command -v "$tool" >/dev/null || {
    echo "error: '$tool' is required to build InfluxDB once (Go 1.23+ and Rust via rustup)" >&2
    exit 1
  }
done
echo "system dependencies: ok"
