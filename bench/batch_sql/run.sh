#!/usr/bin/env bash
# N step records per transaction, four statement shapes, the server's CPU per
# record (docs/performance.md, "One statement for many step records"):
#   claims    N claims as Keel sends them today (INSERT ... SELECT ... FROM
#             status WHERE pending here), pipelined
#   combined  one claim for all N (unnest of arrays JOIN status), RETURNING
#   plain     N INSERT ... VALUES, pipelined (no pending check)
#   multi     one INSERT ... VALUES (...), (...), ... (no pending check)
# Each runs SECS seconds on one pgbench client (prepared, one pipeline per
# transaction, so every shape pays one round trip); CPU is the postmaster's
# reaped children (its /proc stat fields 16-17), so run this as root on an
# otherwise idle server. Needs the peer's server
# (../shared/peers/dbos-ts/start-postgres.sh).
# usage: bench/batch_sql/run.sh [N] [ROUNDS] [SECS]
set -euo pipefail
cd "$(dirname "$0")"
N="${1:-8}" ROUNDS="${2:-2}" SECS="${3:-10}"
export PGPASSWORD="${BENCH_PASS:-bench}" PGOPTIONS='-c client_min_messages=warning'
CONN=(-h 127.0.0.1 -p "${PGPORT:-5432}" -U "${BENCH_USER:-bench}" "${BENCH_DB:-bench}")
PGBENCH="$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)"
POSTMASTER="$(pgrep -o -x postgres)"
psql -q -v ON_ERROR_STOP=1 "${CONN[@]}" -f setup.sql
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
cols="workflow_id, function_id, name, output, error_type, error_message, child_workflow_id, started_at, completed_at, kind, attempts"
sets="" rows=() claims="" plain="" ids="" fids=""
for i in $(seq 0 $((N - 1))); do
  sets+="\\set n$i random(1, 2200)"$'\n'"\\set f$i random(1, 2000000000)"$'\n'
  claims+="INSERT INTO pgbatch.ops ($cols) SELECT workflow_id, :f$i::integer, 'noop', 'null', NULL, NULL, NULL, 1::bigint, 2::bigint, 'step', 1 FROM pgbatch.status WHERE workflow_id = 'w' || :n$i AND status = 'PENDING' AND executor_id = 'exec-1' ON CONFLICT (workflow_id, function_id) DO NOTHING;"$'\n'
  row="('w' || :n$i, :f$i::integer, 'noop', 'null', NULL, NULL, NULL, 1, 2, 'step', 1)"
  rows+=("$row")
  plain+="INSERT INTO pgbatch.ops ($cols) VALUES $row ON CONFLICT (workflow_id, function_id) DO NOTHING;"$'\n'
  ids+="${ids:+, }'w' || :n$i" fids+="${fids:+, }:f$i"
done
same() { local v=$1 out=""; for _ in $(seq "$N"); do out+="${out:+, }$v"; done; echo "ARRAY[$out]::$2[]"; }
combined="INSERT INTO pgbatch.ops ($cols) SELECT u.* FROM unnest(ARRAY[$ids]::text[], ARRAY[$fids]::integer[], \
$(same "'noop'" text), $(same "'null'" text), $(same NULL text), $(same NULL text), $(same NULL text), \
$(same 1 bigint), $(same 2 bigint), $(same "'step'" text), $(same 1 integer)) AS u($cols) \
JOIN pgbatch.status s ON s.workflow_id = u.workflow_id AND s.status = 'PENDING' AND s.executor_id = 'exec-1' \
ON CONFLICT (workflow_id, function_id) DO NOTHING RETURNING workflow_id, function_id;"
multi="INSERT INTO pgbatch.ops ($cols) VALUES $(IFS=,; echo "${rows[*]}") ON CONFLICT (workflow_id, function_id) DO NOTHING;"
for shape in claims combined plain multi; do
  printf '%s\\startpipeline\nBEGIN;\n%s\nCOMMIT;\n\\endpipeline\n' "$sets" "${!shape}" > "$work/$shape.sql"
done
ticks() { awk '{print $16 + $17}' "/proc/$POSTMASTER/stat"; }
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
  line="round $r, N=$N:"
  for shape in claims combined plain multi; do
    t0=$(ticks)
    tps=$("$PGBENCH" -n -M prepared -T "$SECS" -c 1 -j 1 -f "$work/$shape.sql" "${CONN[@]}" 2>&1 |
          sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    sleep 0.5  # the backend exits and is reaped
    t1=$(ticks)
    line="$line $shape=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v tps="$tps" -v s="$SECS" -v n="$N" \
      'BEGIN{printf "%.1f", t / hz * 1e6 / (tps * s * n)}') µs/record"
  done
  echo "$line"
done
