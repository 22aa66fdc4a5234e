#!/usr/bin/env bash
# Needs a PostgreSQL server: KEEL_EXAMPLE_PG (an admin URL, e.g.
# postgresql://postgres@127.0.0.1:54329/keel_test; set by ctest from the test
# cluster). Executor a starts the report; b waits as a peer; a is killed with
# SIGKILL during part 2; b takes over, replays part 1 and finishes.
set -euo pipefail
bin=$1 work=$2
admin=${KEEL_EXAMPLE_PG:?set KEEL_EXAMPLE_PG to a PostgreSQL URL}
db=keel_example_scale_out
psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url=${admin%/*}/$db
a_out=$work/a.out b_out=$work/b.out
"$bin" "$url" a start > "$a_out" 2>&1 &
a=$!
for _ in $(seq 200); do grep -q "executor a: part 2" "$a_out" && break; sleep 0.1; done
"$bin" "$url" b > "$b_out" 2>&1 &
b=$!
sleep 0.5
kill -9 "$a"
wait "$a" || true
wait "$b"
echo "--- a (killed)"; cat "$a_out"; echo "--- b"; cat "$b_out"
psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
grep -q "report-1 = 15, seen by executor b" "$b_out" || { echo "b did not finish the report"; exit 1; }
! grep -q "executor b: part 1" "$b_out" || { echo "b ran part 1 again: its record was not used"; exit 1; }
grep -q "executor b: part 5" "$b_out" || { echo "b did not run the rest"; exit 1; }
