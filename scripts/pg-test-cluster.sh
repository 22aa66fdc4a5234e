#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: 127.0.0.1:${KEEL_PG_PORT:-54329}
# only, data under /tmp, trust authentication on loopback, fsync and
# synchronous_commit on (the durability the tests rely on).
#   pg-test-cluster.sh start   initdb if needed, start if not running, print the URL
#   pg-test-cluster.sh stop    stop the cluster this script started (no-op otherwise)
#   pg-test-cluster.sh url     print the URL
#   pg-test-cluster.sh halt [immediate|fast]
#                              stop the server now, keeping the marker so that
#                              `stop` still cleans up (fault tests: a server
#                              that goes away mid-run, restarted with `start`)
# Idempotent. PostgreSQL refuses to run as root: as root, the server runs as
# the `postgres` OS user.
set -euo pipefail

PORT="${KEEL_PG_PORT:-54329}"
DATA="${KEEL_PG_DATA:-/tmp/keel-pg-test-${PORT}}"
DB="keel_test"
URL="postgresql://postgres@127.0.0.1:${PORT}/${DB}"

bindir=""
for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir="$d"; fi
done
[ -n "$bindir" ] || { echo "pg-test-cluster: initdb/pg_ctl not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { as_owner "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

case "${1:-}" in
  start)
    if [ ! -s "$DATA/PG_VERSION" ]; then
      mkdir -p "$DATA"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
      chmod 700 "$DATA"
      as_owner "$bindir/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DATA.initdb.log" 2>&1 ||
        { cat "$DATA.initdb.log" >&2; exit 1; }
      cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 64MB
CONF
      # Loopback TCP only, trust (a throwaway test cluster).
      cat >"$DATA/pg_hba.conf" <<HBA
host all all 127.0.0.1/32 trust
HBA
    fi
    if ! running; then
      as_owner "$bindir/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null ||
        { tail -n 30 "$DATA/server.log" >&2; exit 1; }
      touch "$DATA/.started-by-keel"
    fi
    if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]; then
      psql_admin -c "CREATE DATABASE ${DB}" 2>/dev/null || true
    fi
    echo "$URL"
    ;;
  stop)
    if [ -f "$DATA/.started-by-keel" ] && running; then
      as_owner "$bindir/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    rm -f "$DATA/.started-by-keel"
    ;;
  url)
    echo "$URL"
    ;;
  halt)
    if running; then
      as_owner "$bindir/pg_ctl" -D "$DATA" -m "${2:-immediate}" -w stop >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 start|stop|url|halt [immediate|fast]" >&2
    exit 2
    ;;
esac
