#!/usr/bin/env bash
# The step's claim, without the engine: pgbench (libpq, prepared, 1 client)
# replays the locking claim of sessions 1-6 (row lock + foreign key) and the
# lock-free claim of session 7 against copies of Keel's two tables, with the
# peer's autocommit INSERT floor, alternating, ROUNDS times SECS seconds each.
# Needs the peer's server (../shared/peers/dbos-ts/start-postgres.sh).
# usage: bench/claim_sql/run.sh [ROUNDS] [SECS]
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS="${1:-6}" SECS="${2:-4}"
export PGPASSWORD="${BENCH_PASS:-bench}" PGOPTIONS='-c client_min_messages=warning'
CONN=(-h 127.0.0.1 -p "${PGPORT:-5432}" -U "${BENCH_USER:-bench}" "${BENCH_DB:-bench}")
PGBENCH="$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)"
psql -q -v ON_ERROR_STOP=1 "${CONN[@]}" -f setup.sql
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for s in floor claim_locking claim_lock_free; do
    lat=$("$PGBENCH" -n -M prepared -T "$SECS" -c 1 -j 1 -f "$s.sql" "${CONN[@]}" 2>&1 |
          sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
    line="$line $s=$(awk -v l="$lat" 'BEGIN{printf "%.0f", l*1000}') µs"
  done
  echo "$line"
done
