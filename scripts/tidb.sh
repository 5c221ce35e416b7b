#!/usr/bin/env bash
# A single-node TiDB for keycard's tests, built from TiDB's Go module (no
# Docker, no download site: only the Go module proxy).
#
#   scripts/tidb.sh build    build tidb-server into the cache (once; ~8 min)
#   scripts/tidb.sh start    build if needed, start on 127.0.0.1:4000, wait
#   scripts/tidb.sh stop     stop it
#   scripts/tidb.sh status   exit 0 when it answers
#
# The binary is kept in $KEYCARD_CACHE (default ~/.cache/keycard), outside
# the clone, so later runs skip the build. Tests then use
#   KEYCARD_TEST_TIDB_URL=mysql://root@127.0.0.1:4000/test
set -euo pipefail

# release-8.5 (2025-11-26), pinned: the module and its nested parser module.
TIDB_VERSION=v1.1.0-beta.0.20251126154744-e4e814fdc0af
PARSER_VERSION=v0.0.0-20251126154744-e4e814fdc0af

cache=${KEYCARD_CACHE:-$HOME/.cache/keycard}
bin="$cache/tidb-server-$TIDB_VERSION"
data=${TIDB_DATA:-$cache/tidb-data}
port=${TIDB_PORT:-4000}
status_port=${TIDB_STATUS_PORT:-10080}
pidfile="$cache/tidb.pid"
logfile="$cache/tidb.log"

answers() {
  if command -v mysqladmin >/dev/null 2>&1; then
    mysqladmin --protocol=tcp -h127.0.0.1 -P"$port" -uroot ping >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

build() {
  if [ -x "$bin" ]; then return 0; fi
  mkdir -p "$cache"
  echo "building tidb-server $TIDB_VERSION into $cache (once; several minutes)" >&2
  local dir src
  dir=$(go mod download -json "github.com/pingcap/tidb@$TIDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "go mod download of github.com/pingcap/tidb@$TIDB_VERSION failed" >&2
    return 1
  fi
  src=$(mktemp -d "$cache/tidb-src.XXXXXX")
  cp -r "$dir/." "$src"
  chmod -R u+w "$src"
  # The nested pkg/parser module is not inside the parent's module zip, but
  # go.mod replaces it with ./pkg/parser: point the replace at the module.
  (
    cd "$src"
    go mod edit -replace "github.com/pingcap/tidb/pkg/parser=github.com/pingcap/tidb/pkg/parser@$PARSER_VERSION"
    GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -tags codes -o "$bin.tmp" ./cmd/tidb-server
  )
  mv "$bin.tmp" "$bin"
  rm -rf "$src"
}

start() {
  if answers; then return 0; fi
  build
  mkdir -p "$data"
  nohup "$bin" --store=unistore --path="$data" -P "$port" -host 127.0.0.1 \
    -status "$status_port" -status-host 127.0.0.1 -socket "" \
    --log-file="$logfile" >/dev/null 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then return 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "tidb-server exited; see $logfile" >&2
      return 1
    fi
    sleep 1
  done
  echo "tidb-server did not answer on 127.0.0.1:$port; see $logfile" >&2
  return 1
}

stop() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 build|start|stop|status" >&2; exit 2 ;;
esac
