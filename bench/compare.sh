#!/usr/bin/env bash
# Keel against DBOS Transact for TypeScript and against Restate, back to back.
#
#   bench/compare.sh [BUILD_DIR]         # BUILD_DIR (default build) holds bin/keel_peer_bench
#   REPEAT=3 bench/compare.sh            # three alternating rounds; the table shows medians
#   QUICK=1 REPEAT=1 bench/compare.sh    # smoke run, small counts
#
# For each workload (steps; workflows at 1 and 64 concurrent; checkout; duplicate
# start) and each round it runs, one right after the other:
#   DBOS-TS      node bench.mjs <bench>  (the peer harness, unchanged), fresh system DB
#   Restate      node bench.mjs <bench>  (the restate peer harness, unchanged) against a
#                restate-server and service.mjs started for this workload on an empty
#                data dir, every listener on 127.0.0.1; only steps, workflows_c1,
#                workflows_c64 and idempotent (Restate has no checkout workload)
#   Keel PG      keel_peer_bench <bench> postgresql://.../keel_bench, fresh database
#   Keel SQLite  keel_peer_bench <bench> sqlite:<fresh file> (synchronous FULL)
# so every ratio compares runs a few seconds apart on the same machine. DBOS and
# Keel PG share one PostgreSQL; Restate keeps its own journal (a RocksDB-backed log
# under BUILD_DIR, fsync on), so it needs no database. Then it prints one table
# (bench/compare_table.mjs) with the medians, the ratios, the statements and
# commits per unit (pg_stat_statements) and the CPU per unit.
#
# env: PEER_DIR (the dbos-ts harness; default: shared/peers/dbos-ts next to the
# worktree), RESTATE_DIR (the restate harness; default: shared/peers/restate next
# to the worktree), SKIP_RESTATE (0; also skipped, with a warning, when the harness
# is missing, npm ci fails or its ports 8080/9070/5122/9080 are taken),
# PGPORT (5432), REPEAT (1), QUICK (0), SKIP_SQLITE (0),
# ONLY ("steps workflows_c1 workflows_c64 workflows_c64_pool64 checkout idempotent"),
# SKIP_CALIB (0: run the peer's calibrate.sh, the engine-free floors, each round), CALIB_SECS (3).
# Needs root or sudo (start-postgres.sh, dropping databases as postgres), node/npm, curl.
# Both harnesses run from copies under BUILD_DIR (peer-dbos-ts, peer-restate): the
# shared directories may be read-only and npm ci writes node_modules.
# Output: results/compare-<timestamp>/ under BUILD_DIR: raw.log, env.txt, table.md;
# rep<N>/restate-<workload>-{server,service,bench}.log for the Restate runs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
BIN="$BUILD/bin/keel_peer_bench"
[ -x "$BIN" ] || { echo "no $BIN: build it first (cmake --build $BUILD --target keel_peer_bench)" >&2; exit 2; }

find_peer() {  # shared/peers/<name> in the worktree or a directory above it
  local d="$ROOT"
  while [ "$d" != / ]; do
    if [ -f "$d/shared/peers/$1/bench.mjs" ]; then echo "$d/shared/peers/$1"; return; fi
    d="$(dirname "$d")"
  done
}
warn() { echo "compare.sh: warning: $*" >&2; }
PEER_SRC="${PEER_DIR:-$(find_peer dbos-ts)}"
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

# Restate is optional: without its harness the table has no Restate figures, and
# the DBOS and Keel columns are what they would have been.
RESTATE_SRC="${RESTATE_DIR:-$(find_peer restate)}"
RPEER="$BUILD/peer-restate"
RESTATE_BIN="$RPEER/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server"
export SCARF_ANALYTICS=false  # as the harness's run.sh: no analytics call from npm ci
setup_restate() {  # copy the harness next to the build and install it; 1 = go on without Restate
  [ "${SKIP_RESTATE:-0}" != 1 ] || return 1
  if [ -z "$RESTATE_SRC" ] || [ ! -f "$RESTATE_SRC/bench.mjs" ]; then
    warn "Restate harness not found (set RESTATE_DIR); no Restate column"; return 1
  fi
  local f stale=0
  for f in bench.mjs service.mjs package-lock.json; do cmp -s "$RESTATE_SRC/$f" "$RPEER/$f" || stale=1; done
  if [ ! -x "$RESTATE_BIN" ] || [ "$stale" = 1 ]; then
    if ! { mkdir -p "$RPEER" && cp -r "$RESTATE_SRC/." "$RPEER/" && chmod -R u+w "$RPEER" &&
      (cd "$RPEER" && npm ci --no-audit --no-fund >/dev/null); }; then
      warn "installing the Restate harness in $RPEER failed; no Restate column"; return 1
    fi
  fi
  "$RESTATE_BIN" --version >/dev/null 2>&1 || { warn "$RESTATE_BIN does not run; no Restate column"; return 1; }
}
RESTATE=0
if setup_restate; then RESTATE=1; fi

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

# restate-server and service.mjs, started and stopped as the harness's run.sh does:
# a fresh server per workload on an empty data dir, so no run replays another's log.
SERVER_PID="" SERVICE_PID=""
wait_for() {  # wait_for TRIES SECS CMD...: until CMD succeeds
  local n="$1" s="$2"
  shift 2
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep "$s"; done
  return 1
}
restate_ports_taken() {  # another Restate (or anything) on its fixed ports would take our requests
  ss -Hltn | awk '{print $4}' | grep -Eq ':(8080|9070|5122|9080)$'
}
restate_up() {
  kill -0 "$SERVER_PID" && curl -sf http://127.0.0.1:9070/health && curl -s -o /dev/null http://127.0.0.1:8080/
}
restate_serves() { curl -sf -X POST http://127.0.0.1:8080/bench/three -H 'content-type: application/json' -d 1; }
start_restate() {  # start_restate LOGPREFIX: 1 = not started (stop_restate cleans up)
  local log="$1"
  if restate_ports_taken; then warn "a Restate port (8080/9070/5122/9080) is taken"; return 1; fi
  rm -rf "$RESTATE_DATA" && mkdir -p "$RESTATE_DATA" "$(dirname "$log")"
  RESTATE_BIND_IP=127.0.0.1 RESTATE_ADVERTISED_HOST=127.0.0.1 RESTATE_DISABLE_TELEMETRY=true \
  RESTATE_LOG_FILTER=warn \
    "$RESTATE_BIN" --no-logo --base-dir "$RESTATE_DATA" --node-name bench-node --listen-mode tcp >"$log-server.log" 2>&1 &
  SERVER_PID=$!
  wait_for 150 0.2 restate_up || { warn "restate-server did not come up"; return 1; }
  RESTATE_LOGGING=WARN node "$RPEER/service.mjs" >"$log-service.log" 2>&1 &
  SERVICE_PID=$!
  wait_for 50 0.1 grep -q listening "$log-service.log" || { warn "service.mjs did not listen"; return 1; }
  curl -sf -X POST http://127.0.0.1:9070/deployments -H 'content-type: application/json' \
    -d '{"uri":"http://127.0.0.1:9080","force":true}' >"$log-register.json" || { warn "deployment not registered"; return 1; }
  # the ingress may need a moment to see the new deployment
  wait_for 100 0.1 restate_serves || { warn "the ingress does not serve bench/three"; return 1; }
}
stop_pid() {  # TERM, then KILL after 20 s: only a process this script started
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_restate() {
  stop_pid "$SERVICE_PID"
  stop_pid "$SERVER_PID"
  SERVER_PID="" SERVICE_PID=""
  [ -z "${RESTATE_DATA:-}" ] || rm -rf "$RESTATE_DATA"
}
trap stop_restate EXIT
run_restate() {  # run_restate NAME ENVS BENCH REP: a failure costs this cell, not the run
  local name="$1" envs="$2" bench="$3" rep="$4" log="$OUT/rep$4/restate-$1"
  if start_restate "$log"; then
    # Restate retries a failed invocation for ever: a stuck run ends at the timeout, not the whole compare
    (cd "$RPEER" && env $QUICK_ENV $envs SERVER_PID="$SERVER_PID" SERVICE_PID="$SERVICE_PID" \
      timeout 600 node bench.mjs "$bench" 2>&1) | tee "$log-bench.log" | tag "$name" restate "$rep" | tee -a "$LOG" ||
      warn "Restate $name (round $rep) failed: see $log-*.log"
  else
    warn "Restate $name (round $rep) skipped (logs: $log-*.log)"
  fi
  stop_restate
}

OUT="$BUILD/results/compare-$(date -u +%Y%m%d-%H%M%S)"
RESTATE_DATA="$OUT/restate-data"
mkdir -p "$OUT"
LOG="$OUT/raw.log"
{
  echo "# host"; uname -srm; echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo || true
  echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# versions"; node --version; as_pg psql -p "$PGPORT" -Atc 'select version()'
  echo "keel $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  if [ "$RESTATE" = 1 ]; then
    "$RESTATE_BIN" --version
    echo "@restatedev/restate-sdk $(node -p "require('$RPEER/node_modules/@restatedev/restate-sdk/package.json').version")"
  fi
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
    [[ "$name" == *pool64 ]] && continue  # a DBOS pool setting: no Keel or Restate counterpart
    # Restate has no checkout workload (no transaction on an application table)
    if [ "$RESTATE" = 1 ] && [ "$name" != checkout ]; then run_restate "$name" "$envs" "$bench" "$rep"; fi
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
