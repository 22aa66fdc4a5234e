#!/usr/bin/env bash
# A throwaway PostgreSQL failover pair for the failover tests: a primary and a
# streaming-replication standby on 127.0.0.1:${KEEL_PG_FAILOVER_PORTS:-19386,19387},
# data under /tmp, trust authentication on loopback. Replication is
# synchronous (synchronous_standby_names names the standby,
# synchronous_commit = on): a commit is acknowledged only once the standby has
# flushed it, so a promoted standby holds every acknowledged commit.
# KEEL_PG_FAILOVER_ASYNC=1 makes it asynchronous (the counter-example: an
# acknowledged commit may be missing on the promoted standby).
#   pg-failover-cluster.sh start     initdb the primary, pg_basebackup -R the standby,
#                                    start both if not running, print the URL
#   pg-failover-cluster.sh stop      stop both nodes (only if this script started them), remove the data
#   pg-failover-cluster.sh url       print the multi-host URL (target_session_attrs=read-write)
#   pg-failover-cluster.sh primary   print the port of the current primary
#   pg-failover-cluster.sh standby   print the port of the current standby
#   pg-failover-cluster.sh kill      SIGKILL the primary's postmaster (kill -9), wait until it is gone
#   pg-failover-cluster.sh promote   point synchronous replication at the old primary, promote the standby
#   pg-failover-cluster.sh rebuild   make the dead old primary the new standby (pg_basebackup from
#                                    the new primary), start it, wait until it streams
#   pg-failover-cluster.sh failover  kill + promote + rebuild
# Which node is the primary is kept in $STATE/primary. Idempotent where it can
# be: start and stop may be repeated. PostgreSQL refuses to run as root: as
# root, the servers run as the `postgres` OS user.
set -euo pipefail

IFS=, read -r PORT_A PORT_B <<<"${KEEL_PG_FAILOVER_PORTS:-19386,19387}"
STATE="${KEEL_PG_FAILOVER_DATA:-/tmp/keel-pg-failover-${PORT_A}-${PORT_B}}"
DB="${KEEL_PG_FAILOVER_DB:-keel_test}"
URL="postgresql://postgres@127.0.0.1:${PORT_A},127.0.0.1:${PORT_B}/${DB}?target_session_attrs=read-write"
ASYNC="${KEEL_PG_FAILOVER_ASYNC:-0}"

bindir=""
for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_basebackup" ]; then bindir="$d"; fi
done
[ -n "$bindir" ] || { echo "pg-failover-cluster: initdb/pg_ctl/pg_basebackup not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

data_of() { echo "$STATE/node-$1"; }
name_of() { echo "node_$1"; }
other_of() { if [ "$1" = "$PORT_A" ]; then echo "$PORT_B"; else echo "$PORT_A"; fi; }
primary_port() { cat "$STATE/primary" 2>/dev/null || echo "$PORT_A"; }
running() { as_owner "$bindir/pg_ctl" -D "$(data_of "$1")" status >/dev/null 2>&1; }
psql_at() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres "${@:2}"; }
sync_names_for() { if [ "$ASYNC" = "1" ]; then echo ""; else echo "\"$(name_of "$1")\""; fi; }

# The default ports are below the kernel's ephemeral range (and below the
# e2e tests' 20000-32766), so no client connection is given one of them as
# its local port; ports chosen inside that range may be, and then the
# server cannot bind. Such a connection (to our own other node) is reset,
# which its client survives as a lost connection; any other user of the
# port is waited for.
free_port() {
  local port="$1" other
  other="$(other_of "$port")"
  for _ in $(seq 1 100); do
    # TIME-WAIT leftovers do not stop a bind (the server sets SO_REUSEADDR),
    # nor do FIN-WAIT-2 ones: a killed server's side of a connection whose
    # client has not closed yet (an idle pooled connection notices only at
    # its next use; seen under load, the port "stayed in use" for 10 s).
    [ -z "$(ss -Htan exclude time-wait exclude fin-wait-2 "( sport = :$port )" 2>/dev/null)" ] && return 0
    ss -K -Htan "( sport = :$port and dport = :$other )" >/dev/null 2>&1 || true
    sleep 0.1
  done
  echo "pg-failover-cluster: 127.0.0.1:$port stays in use:" >&2
  ss -Htanp "( sport = :$port )" >&2 || true
  exit 1
}

start_node() {
  local port="$1" data
  data="$(data_of "$port")"
  if ! running "$port"; then
    # The port on the command line: the data directory may be a copy of the
    # other node's (pg_basebackup), whose postgresql.conf names its port.
    # Tried again when something took the port between the check and the bind.
    local attempt
    for attempt in 1 2 3 4 5; do
      free_port "$port"
      as_owner "$bindir/pg_ctl" -D "$data" -l "$data.log" -o "-p $port" -w -t 60 start >/dev/null && break
      if [ "$attempt" = 5 ] || ! tail -n 5 "$data.log" | grep -q "could not create any TCP/IP sockets"; then
        tail -n 30 "$data.log" >&2
        exit 1
      fi
      sleep 1
    done
    touch "$STATE/.started-by-keel"
  fi
}

# Waits until the primary on $1 reports a streaming standby (sync or async as configured).
wait_streaming() {
  local want="sync"
  [ "$ASYNC" = "1" ] && want="async"
  for _ in $(seq 1 300); do
    if [ "$(psql_at "$1" -tAc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = '$want'" 2>/dev/null)" = "1" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "pg-failover-cluster: no $want standby streaming from 127.0.0.1:$1" >&2
  exit 1
}

# A standby of the primary on $2 in the (empty) data directory of node $1.
make_standby() {
  local port="$1" primary="$2" data
  data="$(data_of "$port")"
  rm -rf "$data"
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  chmod 700 "$data"
  # -R writes primary_conninfo (with this application_name, the name that
  # synchronous_standby_names on the primary waits for) and standby.signal.
  as_owner "$bindir/pg_basebackup" -d "host=127.0.0.1 port=$primary user=postgres application_name=$(name_of "$port")" \
    -D "$data" -R -X stream -c fast >"$data.basebackup.log" 2>&1 || { cat "$data.basebackup.log" >&2; exit 1; }
  start_node "$port"
}

case "${1:-}" in
  start)
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$STATE"
    primary="$(primary_port)"
    standby="$(other_of "$primary")"
    pdata="$(data_of "$primary")"
    if [ ! -s "$pdata/PG_VERSION" ]; then
      mkdir -p "$pdata"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pdata"
      chmod 700 "$pdata"
      as_owner "$bindir/initdb" -D "$pdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"$pdata.initdb.log" 2>&1 || { cat "$pdata.initdb.log" >&2; exit 1; }
      cat >>"$pdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 64MB
wal_level = replica
max_wal_senders = 10
wal_keep_size = 256MB
hot_standby = on
wal_receiver_status_interval = 1s
CONF
      cat >"$pdata/pg_hba.conf" <<HBA
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
      echo "$primary" >"$STATE/primary"
    fi
    start_node "$primary"
    # ALTER SYSTEM (postgresql.auto.conf) so that promote can re-point it.
    psql_at "$primary" -c "ALTER SYSTEM SET synchronous_standby_names = '$(sync_names_for "$standby")'" \
      -c "SELECT pg_reload_conf()" >/dev/null
    if [ ! -s "$(data_of "$standby")/PG_VERSION" ]; then
      make_standby "$standby" "$primary"
    else
      start_node "$standby"
    fi
    wait_streaming "$primary"
    if [ "$(psql_at "$primary" -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]; then
      psql_at "$primary" -c "CREATE DATABASE ${DB}" 2>/dev/null || true
    fi
    # A synchronous commit waits for the standby's flush, not its replay: a
    # test that connects to the standby at once may not find the database
    # yet (a CI flake under load). Wait until the standby has replayed it.
    for _ in $(seq 1 300); do
      [ "$(psql_at "$standby" -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB}'" 2>/dev/null)" = "1" ] && break
      sleep 0.1
    done
    echo "$URL"
    ;;
  stop)
    if [ -f "$STATE/.started-by-keel" ]; then
      for port in "$PORT_A" "$PORT_B"; do
        if running "$port"; then as_owner "$bindir/pg_ctl" -D "$(data_of "$port")" -m immediate -w stop >/dev/null || true; fi
      done
      rm -rf "$STATE"
    fi
    ;;
  url)
    echo "$URL"
    ;;
  primary)
    primary_port
    ;;
  standby)
    other_of "$(primary_port)"
    ;;
  kill)
    primary="$(primary_port)"
    pidfile="$(data_of "$primary")/postmaster.pid"
    if [ -s "$pidfile" ]; then
      pid="$(head -n 1 "$pidfile")"
      children="$(pgrep -P "$pid" 2>/dev/null || true)"
      kill -9 "$pid" 2>/dev/null || true
      # The backends notice their postmaster's death and exit on their own;
      # wait for every process of the old server to be gone.
      for _ in $(seq 1 300); do
        alive=0
        for p in $pid $children; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
      done
    fi
    ;;
  promote)
    old="$(primary_port)"
    new="$(other_of "$old")"
    # Before the promotion, so that no commit on the new primary is ever
    # acknowledged without a standby (commits wait until `rebuild` is done).
    psql_at "$new" -c "ALTER SYSTEM SET synchronous_standby_names = '$(sync_names_for "$old")'" \
      -c "SELECT pg_reload_conf()" >/dev/null
    as_owner "$bindir/pg_ctl" -D "$(data_of "$new")" -w -t 60 promote >/dev/null
    echo "$new" >"$STATE/primary"
    ;;
  rebuild)
    primary="$(primary_port)"
    standby="$(other_of "$primary")"
    if running "$standby"; then as_owner "$bindir/pg_ctl" -D "$(data_of "$standby")" -m immediate -w stop >/dev/null || true; fi
    make_standby "$standby" "$primary"
    wait_streaming "$primary"
    ;;
  failover)
    "$0" kill
    "$0" promote
    "$0" rebuild
    ;;
  *)
    echo "usage: $0 start|stop|url|primary|standby|kill|promote|rebuild|failover" >&2
    exit 2
    ;;
esac
