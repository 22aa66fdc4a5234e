#!/usr/bin/env bash
# Several executors on one PostgreSQL (issue 19, part 3): the 64-client
# 3-step workflows of keel_peer_bench from 1, 2 and 4 processes at once, each
# an executor of its own with 64/N clients, all measuring from the same
# instant (START_AT_EPOCH_MS). Prints per N: the aggregate rate (all
# workflows / the slowest process's wall time), each process's rate, and the
# machine's CPU per workflow (/proc/stat over the phase, PostgreSQL included).
#
#   bench/executors.sh [BUILD_DIR]      # BUILD_DIR (default build) holds bin/keel_peer_bench
#
# env: PGPORT (5432), PROCS ("1 2 4"), WF_TOTAL (8000 workflows per N, split
# evenly), REPEAT (1). Needs the PostgreSQL of bench/compare.sh running on
# PGPORT (its start-postgres.sh: user bench) and root or sudo (a fresh
# database per N, made as postgres).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="$(cd "${1:-$HERE/../build}" && pwd)"
BIN="$BUILD/bin/keel_peer_bench"
[ -x "$BIN" ] || { echo "no $BIN: build it first (cmake --build $BUILD --target keel_peer_bench)" >&2; exit 2; }
PGPORT="${PGPORT:-5432}"
PROCS="${PROCS:-1 2 4}"
WF_TOTAL="${WF_TOTAL:-8000}"
REPEAT="${REPEAT:-1}"
DB=keel_executors
export PGOPTIONS="-c client_min_messages=warning"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
psql_su() { as_pg psql -p "$PGPORT" -q -v ON_ERROR_STOP=1 "$@"; }
busy_total() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat; }
OUT="$(mktemp -d /tmp/keel-executors.XXXXXX)"

for rep in $(seq 1 "$REPEAT"); do
  for n in $PROCS; do
    psql_su -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB OWNER bench" -c CHECKPOINT
    url="postgresql://bench:bench@127.0.0.1:$PGPORT/$DB"
    # Migrate once, so that the processes do not race to create the schema.
    WF_COUNT=1 WF_CONC=1 BENCH_SQLSTATS=0 "$BIN" workflows "$url" > /dev/null
    per=$(( WF_TOTAL / n )) conc=$(( 64 / n ))
    at=$(( $(date +%s%3N) + 4000 ))  # room for every process to start and warm up
    pids=()
    for i in $(seq 1 "$n"); do
      WF_COUNT=$per WF_CONC=$conc BENCH_SQLSTATS=0 START_AT_EPOCH_MS=$at "$BIN" workflows "$url" \
        > "$OUT/r$rep-n$n-p$i.log" 2>&1 &
      pids+=($!)
    done
    sleep_s=$(( at - $(date +%s%3N) ))
    [ "$sleep_s" -gt 0 ] && sleep "$(awk -v ms="$sleep_s" 'BEGIN{print ms/1000}')"
    read -r b0 t0 < <(busy_total)
    for p in "${pids[@]}"; do wait "$p"; done
    read -r b1 t1 < <(busy_total)
    # RESULT {"bench":"workflows",...,"wall_ms":W,"workflows_per_sec":R,...}
    walls=() rates=()
    for i in $(seq 1 "$n"); do
      line=$(grep '^RESULT' "$OUT/r$rep-n$n-p$i.log" | tail -1)
      walls+=("$(sed 's/.*"wall_ms":\([0-9.]*\).*/\1/' <<< "$line")")
      rates+=("$(sed 's/.*"workflows_per_sec":\([0-9.]*\).*/\1/' <<< "$line")")
    done
    max_wall=$(printf '%s\n' "${walls[@]}" | sort -g | tail -1)
    # jiffies are 10 ms; busy share of all cores over the phase, per workflow
    awk -v n="$n" -v total="$(( per * n ))" -v wall="$max_wall" -v db="$(( b1 - b0 ))" -v dt="$(( t1 - t0 ))" \
        -v rates="${rates[*]}" -v cores="$(nproc)" 'BEGIN{
      cpu_us = db * 10000 / total;
      printf "round %s  executors %d  clients %d each  aggregate %8.0f wf/s  per process %s  CPU %5.0f us/wf (machine busy %2.0f%% of %d cores)\n",
             "'"$rep"'", n, 64 / n, total * 1000 / wall, rates, cpu_us, 100 * db / dt, cores }'
  done
done
psql_su -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
echo "logs: $OUT"
