#!/usr/bin/env bash
# Build InfluxDB 2.x OSS `influxd` from its Go module, once, into the cache directory.
# libflux (Rust) is built by the pkg-config wrapper InfluxData publishes; old flux crates deny
# warnings that current rustc emits, so a RUSTC_WRAPPER caps lints to warnings.
set -euo pipefail

version="${INFLUXD_VERSION:-v2.7.12}"
cache="${CITYGATE_CACHE:-$HOME/.cache/citygate}"
out="$cache/bin/influxd-$version"
[ -x "$out" ] && { echo "influxd $version: cached at $out"; exit 0; }

for tool in go cargo; do
  command -v "$tool" >/dev/null || { echo "error: '$tool' is required to build influxd" >&2; exit 1; }
done

work="$cache/build/influxdb-$version"
mkdir -p "$cache/bin" "$cache/build"
export GOPATH="${GOPATH:-$HOME/go}"
export GOFLAGS=-mod=mod

echo "[1/4] fetching github.com/influxdata/influxdb/v2@$version source (Go module)"
src=$(cd "$cache/build" && go mod download -json "github.com/influxdata/influxdb/v2@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"

echo "[2/4] building the pkg-config wrapper that builds libflux"
pkgver=$(awk '$1=="github.com/influxdata/pkg-config"{print $2}' "$work/go.mod")
GOBIN="$cache/bin" go install "github.com/influxdata/pkg-config@$pkgver"

wrapper="$cache/bin/rustc-cap-lints"
cat >"$wrapper" <<'SH'
#!/bin/sh
# cargo calls: $RUSTC_WRAPPER rustc args...
exec "$@" --cap-lints warn
SH
chmod +x "$wrapper"

echo "[3/4] building libflux (Rust, several minutes on first run) and influxd (Go)"
cd "$work"
export PKG_CONFIG="$cache/bin/pkg-config"
export RUSTC_WRAPPER="$wrapper"
# flux pins an old toolchain in rust-toolchain.toml; use the machine's own instead of fetching it.
export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
export CARGO_TERM_PROGRESS_WHEN=always CARGO_TERM_PROGRESS_WIDTH=100
go build -v -o "$out.tmp" ./cmd/influxd 2>&1 | awk '/^[a-z0-9.]+(\/[A-Za-z0-9._~-]+)*$/ { n++; if (n % 100 == 0) printf "  ... %d Go packages compiled\n", n; fflush(); next }
     { print "  " $0; fflush() }'
mv "$out.tmp" "$out"
echo "[4/4] influxd $version built: $out"
