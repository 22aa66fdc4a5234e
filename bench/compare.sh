#!/usr/bin/env bash
# Keel against DBOS Transact for TypeScript, back to back, on the same PostgreSQL.
#
#   bench/compare.sh [BUILD_DIR]         # BUILD_DIR (default build) holds bin/keel_peer_bench
#   REPEAT=3 bench/compare.sh            # three alternating rounds; the table shows medians
#   QUICK=1 REPEAT=1 bench/compare.sh    # smoke run, small counts
#
# For each workload (steps; workflows at 1 and 64 concurrent; checkout; duplicate
# start) and each round it runs, one right after the other:
#   DBOS-TS      node bench.mjs <bench>  (the peer harness, unchanged), fresh system DB
#   Keel PG      keel_peer_bench <bench> postgresql://.../keel_bench, fresh database
#   Keel SQLite  keel_peer_bench <bench> sqlite:<fresh file> (synchronous FULL)
# so every ratio compares runs a few seconds apart on the same machine. Then it
# prints one table (bench/compare_table.mjs) with the medians, the ratios, the
# statements and commits per unit (pg_stat_statements) and the CPU per unit.
#
# env: PEER_DIR (the dbos-ts harness; default: shared/peers/dbos-ts next to the
# worktree), PGPORT (5432), REPEAT (1), QUICK (0), SKIP_SQLITE (0),
# ONLY ("steps workflows_c1 workflows_c64 workflows_c64_pool64 checkout idempotent"),
# SKIP_CALIB (0: run the peer's calibrate.sh, the engine-free floors, each round), CALIB_SECS (3).
# Needs root or sudo (start-postgres.sh, dropping databases as postgres), node/npm.
# Output: results/compare-<timestamp>/ under BUILD_DIR: raw.log, env.txt, table.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
BIN="$BUILD/bin/keel_peer_bench"
[ -x "$BIN" ] || { echo "no $BIN: build it first (cmake --build $BUILD --target keel_peer_bench)" >&2; exit 2; }

find_peer() {
  local d="$ROOT"
  while [ "$d" != / ]; do
    if [ -f "$d/shared/peers/dbos-ts/bench.mjs" ]; then echo "$d/shared/peers/dbos-ts"; return; fi
    d="$(dirname "$d")"
  done
}
PEER_SRC="${PEER_DIR:-$(find_peer)}"
[ -n "$PEER_SRC" ] && [ -f "$PEER_SRC/bench.mjs" ] || { echo "peer harness not found; set PEER_DIR" >&2; exit 2; }

PGPORT="${PGPORT:-5432}"
REPEAT="${REPEAT:-1}"
export PGOPTIONS='-c client_min_messages=warning'
export NODE_OPTIONS="--no-deprecation"
SYS_DB=dbos_bench_sys KEEL_DB=keel_bench
export DBOS_SYSTEM_DATABASE_URL="postgresql://bench:bench@127.0.0.1:$PGPORT/$SYS_DB"
export APP_DATABASE_URL="postgresql://bench:bench@127.0.0.1:$PGPORT/bench"
KEEL_PG_URL="postgresql://bench:bench@127.0.0.1:$PGPORT/$KEEL_DB"

# The harness directory may be read-only (npm ci writes node_modules): run a copy.
PEER="$BUILD/peer-dbos-ts"
if [ ! -d "$PEER/node_modules/@dbos-inc/dbos-sdk" ] || ! diff -q "$PEER_SRC/bench.mjs" "$PEER/bench.mjs" >/dev/null; then
  mkdir -p "$PEER"
  cp -r "$PEER_SRC/." "$PEER/"
  chmod -R u+w "$PEER"
  (cd "$PEER" && npm ci --no-audit --no-fund >/dev/null)
fi
PGPORT="$PGPORT" "$PEER/start-postgres.sh" >/dev/null

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
psql_su() { as_pg psql -p "$PGPORT" -q -v ON_ERROR_STOP=1 "$@"; }

reset_dbos() {  # as the peer's run.sh does before each benchmark
  psql_su -c "DROP DATABASE IF EXISTS \"$SYS_DB\" WITH (FORCE)"
  psql_su -d bench -c 'DROP SCHEMA IF EXISTS dbos CASCADE' -c 'DROP SCHEMA IF EXISTS calib CASCADE' \
    -c 'DROP TABLE IF EXISTS inventory'
  psql_su -c 'CHECKPOINT'
}
reset_keel() {
  psql_su -c "DROP DATABASE IF EXISTS \"$KEEL_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$KEEL_DB\" OWNER bench"
  psql_su -c 'CHECKPOINT'
}

OUT="$BUILD/results/compare-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
LOG="$OUT/raw.log"
{
  echo "# host"; uname -srm; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
  echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# versions"; node --version; as_pg psql -p "$PGPORT" -Atc 'select version()'
  echo "keel $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  echo "# postgres settings"
  as_pg psql -p "$PGPORT" -Atc "select name||'='||setting||coalesce(' '||unit,'') from pg_settings
     where name in ('synchronous_commit','fsync','wal_sync_method','full_page_writes','shared_buffers','wal_level',
     'commit_delay','max_connections','checkpoint_timeout','max_wal_size','wal_buffers') order by name"
} > "$OUT/env.txt"
cat "$OUT/env.txt"

# name | env | bench (same names as the peer's run.sh)
SPECS=(
  "steps||steps"
  "workflows_c1|WF_CONC=1|workflows"
  "workflows_c64|WF_CONC=64|workflows"
  "workflows_c64_pool64|WF_CONC=64 DBOS_POOL=64|workflows"
  "checkout|CO_RESERVE=tx|checkout"
  "idempotent||idempotent"
)
ONLY="${ONLY:-steps workflows_c1 workflows_c64 workflows_c64_pool64 checkout idempotent}"
QUICK_ENV=""
if [ "${QUICK:-0}" = 1 ]; then QUICK_ENV="STEPS_N=100 STEPS_REPS=1 WF_COUNT=200 CO_COUNT=100 IDEM_COUNT=100"; fi

tag() {  # prefix RESULT/SQLSTATS lines with the run, the side, the round and the load average
  sed -u -n "s/^\(RESULT\|SQLSTATS\) {/\1 {\"run\":\"$1\",\"side\":\"$2\",\"rep\":$3,\"loadavg\":$(cut -d' ' -f1 /proc/loadavg),/p"
}

for rep in $(seq 1 "$REPEAT"); do
  # Engine-free floors on the same server (pgbench: SELECT 1, an autocommit INSERT, ...)
  if [ "${SKIP_CALIB:-0}" != 1 ]; then
    echo "=== round $rep/$REPEAT: calibrate" >&2
    reset_dbos
    (cd "$PEER" && PGPORT="$PGPORT" CALIB_SECS="${CALIB_SECS:-3}" ./calibrate.sh 2>&1) \
      | sed -u -n "s/^CALIB {/CALIB {\"rep\":$rep,\"loadavg\":$(cut -d' ' -f1 /proc/loadavg),/p" | tee -a "$LOG"
  fi
  for spec in "${SPECS[@]}"; do
    IFS='|' read -r name envs bench <<<"$spec"
    [[ " $ONLY " == *" $name "* ]] || continue
    echo "=== round $rep/$REPEAT: $name" >&2
    reset_dbos
    (cd "$PEER" && env $QUICK_ENV $envs RESULTS_DIR="$OUT/rep$rep" node bench.mjs "$bench" 2>&1) \
      | tag "$name" dbos "$rep" | tee -a "$LOG"
    [[ "$name" == *pool64 ]] && continue  # a DBOS pool setting: no Keel counterpart
    reset_keel
    env $QUICK_ENV $envs RESULTS_DIR="$OUT/rep$rep" "$BIN" "$bench" "$KEEL_PG_URL" | tag "$name" keel_pg "$rep" | tee -a "$LOG"
    if [ "${SKIP_SQLITE:-0}" != 1 ]; then
      rm -f "$OUT"/keel.db*
      env $QUICK_ENV $envs "$BIN" "$bench" "sqlite:$OUT/keel.db" | tag "$name" keel_sqlite "$rep" | tee -a "$LOG"
      rm -f "$OUT"/keel.db*
    fi
  done
done
reset_dbos
psql_su -c "DROP DATABASE IF EXISTS \"$KEEL_DB\" WITH (FORCE)"
echo "loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"
node "$HERE/compare_table.mjs" "$LOG" | tee "$OUT/table.md"
echo "raw lines: $LOG; per-statement breakdowns: $OUT/rep*/sqlstats-*.txt" >&2
