#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: builds keycard and keycard-load,
# starts keycard on 127.0.0.1 against SQLite and against MySQL/MariaDB, and
# drives it. Load only ever goes to 127.0.0.1.
#
#   bench/run.sh                          # both databases
#   DATABASES=sqlite bench/run.sh         # one
#   MYSQL_URL=mysql://root@127.0.0.1:3306 DURATION=10s bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASES=${DATABASES:-"sqlite mysql"}
MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306}
DURATION=${DURATION:-10s}
PORT=${PORT:-18080}
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/keycard" .
go build -o "$work/keycard-load" ./cmd/keycard-load
load() { "$work/keycard-load" -url "http://127.0.0.1:$PORT" -d "$DURATION" "$@"; }

echo "== go test -bench (auth hot path)"
go test ./auth -run '^$' -bench 'Verify|Authenticate|Middleware|HMACFloor|Argon2OWASP' -benchtime 2s

echo "== go test -bench (finishPasskeyLogin through the handler)"
case " $DATABASES " in
  *" mysql "*) KEYCARD_TEST_MYSQL_URL="$MYSQL_URL/test" go test ./app -run '^$' -bench FinishPasskeyLogin -benchtime 2000x ;;
  *) go test -short ./app -run '^$' -bench FinishPasskeyLogin -benchtime 2000x ;;
esac

for db in $DATABASES; do
  case $db in
    sqlite) url="sqlite:$work/bench.db" ;;
    mysql)
      name="keycard_bench_$$"
      url="$MYSQL_URL/$name"
      mysql --protocol=tcp -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name" 2>/dev/null || true
      ;;
  esac
  echo
  echo "== $db ($url)"
  # Every client of keycard-load is one address (127.0.0.1), and rate
  # limits apply to loopback peers too: registration per address is lifted
  # so the scenarios can sign their users up. Failed-attempt limits stay.
  KEYCARD_DATABASE_URL=$url KEYCARD_ADDR=127.0.0.1:$PORT KEYCARD_LOG_LEVEL=warn \
    KEYCARD_ENV=production KEYCARD_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
    KEYCARD_PUBLIC_URL=http://127.0.0.1:$PORT KEYCARD_RATE_LIMITS=register.ip=0/1m \
    "$work/keycard" 2>"$work/keycard-$db.log" &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

  load -scenario typename -c 32 -users 4
  load -scenario me -c 32 -users 32
  load -scenario login -c 8 -users 16
  load -scenario refresh -c 64 -users 64
  load -scenario me -c 16 -users 16 -background login -background-c 64 -rounds 3

  kill "$server"; wait "$server" 2>/dev/null || true
  if [ "$db" = mysql ]; then
    mysql --protocol=tcp -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name" 2>/dev/null || true
  fi
done
