#!/usr/bin/env bash
# Build Telegraf from its Go module, once, into the cache directory: a custom build with only the
# plugins the gateway benchmark uses (Telegraf's docs/CUSTOMIZATION.md: the `custom` build tag
# plus one tag per plugin). A second run finds the binary and returns at once.
set -euo pipefail

version="${TELEGRAF_VERSION:-v1.39.3}"
cache="${CITYGATE_CACHE:-$HOME/.cache/citygate}"
dir="$cache/telegraf/$version"
out="$dir/telegraf"
[ -x "$out" ] && { echo "telegraf $version: cached at $out"; exit 0; }
command -v go >/dev/null || { echo "error: 'go' is required to build telegraf" >&2; exit 1; }

tags="custom,inputs.mqtt_consumer,outputs.kafka,parsers.json,serializers.json"
mkdir -p "$dir"
echo "telegraf $version: go install with -tags $tags (a few minutes on first run)"
# GOBIN in a staging directory, so an interrupted build never leaves a half binary at $out.
# The version stamp Telegraf's Makefile sets, so `telegraf --version` names what was built.
ldflags="-X github.com/influxdata/telegraf/internal.Version=${version#v}"
GOBIN="$dir/staging" go install -v -tags "$tags" -ldflags "$ldflags" "github.com/influxdata/telegraf/cmd/telegraf@$version" 2>&1 |
  awk '/^[a-zA-Z0-9.]+(\/[A-Za-z0-9._~-]+)*$/ { n++; if (n % 50 == 0) printf "  ... %d Go packages compiled\n", n; fflush(); next }
       { print "  " $0; fflush() }'
mv "$dir/staging/telegraf" "$out"
rmdir "$dir/staging"
echo "telegraf $version: built $out"
