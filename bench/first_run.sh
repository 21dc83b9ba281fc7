#!/usr/bin/env bash
# Measure a first `make demo` setup as on a fresh machine: empty caches for pip, uv, Maven, Go,
# cargo and citygate, a new venv, and the local stack brought up on spare ports; then a warm
# `citygate stack up` after `down`. Writes bench/results/first_run.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d /tmp/citygate-fresh.XXXX)
export CITYGATE_CACHE=$root/cache CITYGATE_RUN_DIR=$root/run
export GOMODCACHE=$root/gomod GOCACHE=$root/gocache CARGO_HOME_FRESH=$root/cargo
export MAVEN_OPTS="-Dmaven.repo.local=$root/m2" PIP_NO_CACHE_DIR=1 UV_CACHE_DIR=$root/uv
export CITYGATE_MQTT__PORT=21883 CITYGATE_KAFKA__BOOTSTRAP=127.0.0.1:29092 CITYGATE_INFLUX__URL=http://127.0.0.1:28086
mkdir -p "$root/cargo" && cp -r "${CARGO_HOME:-$HOME/.cargo}/bin" "$root/cargo/" && export CARGO_HOME=$root/cargo
t0=$(date +%s)
# The same install as `make`: uv bootstrapped with pip, then exactly what uv.lock says.
python3 -m venv "$root/venv"
"$root/venv/bin/pip" install --quiet --progress-bar off "uv==$(sed -n 's/.*"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)"
UV_PROJECT_ENVIRONMENT=$root/venv "$root/venv/bin/uv" sync --locked --all-extras
t1=$(date +%s)
echo "venv + install: $((t1 - t0))s"
"$root/venv/bin/citygate" stack up
t2=$(date +%s)
echo "first stack up (Kafka jars, influxd build): $((t2 - t1))s"
"$root/venv/bin/citygate" stack down
t3=$(date +%s)
"$root/venv/bin/citygate" stack up
t4=$(date +%s)
"$root/venv/bin/citygate" stack down --purge
echo "warm stack up: $((t4 - t3))s"
mkdir -p bench/results
cat > bench/results/first_run.json <<JSON
{"date": "$(date -u +%FT%TZ)", "machine": "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)",
 "venv_install_s": $((t1 - t0)), "first_stack_up_s": $((t2 - t1)), "first_total_s": $((t2 - t0)),
 "warm_stack_up_s": $((t4 - t3)),
 "note": "empty pip, uv, Maven, Go, cargo and citygate caches; the machine was also running other work"}
JSON
cat bench/results/first_run.json
rm -rf "$root"
