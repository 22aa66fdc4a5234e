#!/usr/bin/env bash
# bench/growth.sh — does Keel slow down as its system database fills up?
# (issue 19, part 3: step latency and 64-client throughput with 10,000,000
# operation rows, 2,500,000 finished workflows, within 1.2x of an empty
# database, same run, both backends; the list query <= 20 ms there.)
#
#   bench/growth.sh [BUILD_DIR]      # BUILD_DIR (default build): bin/keel_{peer,fill,list}_bench
#
# For each backend: a full database, filled once by keel_fill_bench (copies
# of a finished 4-step workflow the engine wrote; reused by later runs), and
# an empty one, made afresh before each round. Each round runs the `steps`
# and the 64-client `workflows` workloads of keel_peer_bench on the empty
# database, then on the full one; then keel_list_bench times the list
# queries on the full database, and the database's size per workflow is
# printed. PostgreSQL: the compare run's server (../shared/peers/dbos-ts/
# start-postgres.sh, port PGPORT), databases keel_growth_empty and
# keel_growth_full. SQLite: files under GROWTH_DIR, synchronous FULL.
#
# env: WORKFLOWS (2500000) OPERATIONS (4) ROUNDS (2) BACKENDS ("sqlite postgresql")
#      PGPORT (5432) GROWTH_DIR (/tmp/keel-growth) STEPS_N (1000) STEPS_REPS (5)
#      WF_COUNT (4000) REFILL=1 (drop the full databases first)
# A benchmark, not a test: nothing here asserts a duration.
set -euo pipefail
shopt -s inherit_errexit  # a failing fill inside $(full_db ...) stops the run
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
for b in keel_peer_bench keel_fill_bench keel_list_bench; do
  [ -x "$BUILD/bin/$b" ] || { echo "no $BUILD/bin/$b: build it first" >&2; exit 2; }
done
WORKFLOWS="${WORKFLOWS:-2500000}" OPERATIONS="${OPERATIONS:-4}" ROUNDS="${ROUNDS:-2}"
BACKENDS="${BACKENDS:-sqlite postgresql}" PGPORT="${PGPORT:-5432}"
DIR="${GROWTH_DIR:-/tmp/keel-growth}"
mkdir -p "$DIR"
export PGOPTIONS='-c client_min_messages=warning'

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
psql_su() { as_pg psql -p "$PGPORT" -q -v ON_ERROR_STOP=1 "$@"; }
pg_url() { echo "postgresql://bench:bench@127.0.0.1:$PGPORT/$1"; }

empty_db() {  # empty_db BACKEND: a fresh empty database's URL
  if [ "$1" = postgresql ]; then
    psql_su -c "DROP DATABASE IF EXISTS keel_growth_empty WITH (FORCE)" -c "CREATE DATABASE keel_growth_empty OWNER bench" >&2
    psql_su -c CHECKPOINT >&2
    pg_url keel_growth_empty
  else
    rm -f "$DIR/empty.db" "$DIR/empty.db-wal" "$DIR/empty.db-shm"
    echo "sqlite:$DIR/empty.db"
  fi
}
full_db() {  # full_db BACKEND: the full database's URL, filled if it is not yet
  local url
  if [ "$1" = postgresql ]; then
    if [ "${REFILL:-0}" = 1 ]; then psql_su -c "DROP DATABASE IF EXISTS keel_growth_full WITH (FORCE)" >&2; fi
    if ! psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = 'keel_growth_full'" | grep -q 1; then
      psql_su -c "CREATE DATABASE keel_growth_full OWNER bench" >&2
    fi
    url="$(pg_url keel_growth_full)"
  else
    if [ "${REFILL:-0}" = 1 ]; then rm -f "$DIR/full.db" "$DIR/full.db-wal" "$DIR/full.db-shm"; fi
    url="sqlite:$DIR/full.db"
  fi
  "$BUILD/bin/keel_fill_bench" --db "$url" --workflows "$WORKFLOWS" --operations "$OPERATIONS" >&2
  if [ "$1" = postgresql ]; then
    psql_su -d keel_growth_full -c "VACUUM (ANALYZE) keel.workflow_status" -c "VACUUM (ANALYZE) keel.operation_outputs" >&2
    psql_su -c CHECKPOINT >&2
  fi
  echo "$url"
}

field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }
measure() {  # measure URL: "<µs per step> <workflows/s at 64 clients>"
  local out
  out="$(STEPS_N="${STEPS_N:-1000}" STEPS_REPS="${STEPS_REPS:-5}" WF_COUNT="${WF_COUNT:-4000}" WF_CONC=64 \
    BENCH_SQLSTATS=0 "$BUILD/bin/keel_peer_bench" steps,workflows "$1")"
  echo "$(echo "$out" | grep '"bench":"steps"' | field us_per_step) $(echo "$out" | grep '"bench":"workflows"' | field workflows_per_sec)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

for backend in $BACKENDS; do
  full="$(full_db "$backend")"
  echo "== $backend, full: $("$BUILD/bin/keel_fill_bench" --db "$full" --workflows "$WORKFLOWS" --operations "$OPERATIONS" 2>/dev/null)"
  printf '%-10s %5s %14s %14s %9s %14s %14s %9s\n' backend round "empty µs/step" "full µs/step" ratio \
    "empty wf/s" "full wf/s" ratio
  for round in $(seq "$ROUNDS"); do
    read -r es ew <<<"$(measure "$(empty_db "$backend")")"
    read -r fs fw <<<"$(measure "$full")"
    printf '%-10s %5s %14s %14s %9s %14s %14s %9s\n' "$backend" "$round" "$es" "$fs" "$(ratio "$fs" "$es")" \
      "$ew" "$fw" "$(ratio "$ew" "$fw")"
  done
  echo "== $backend, list queries on the full database (page of 100):"
  "$BUILD/bin/keel_list_bench" --db "$full" --rows "$WORKFLOWS" --reps 15
done
