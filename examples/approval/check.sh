#!/usr/bin/env bash
# A request approved by a decision sent from another process, and one that
# nobody answers: rejected when its durable timeout passes.
set -euo pipefail
bin=$1 work=$2
db=$work/approval.db
rm -f "$db"*
out=$work/approval.out
"$bin" "$db" request expense-42 60 > "$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "waiting for a decision" "$out" && break; sleep 0.1; done
"$bin" "$db" decide expense-42 yes
wait "$pid"
cat "$out"
grep -q "expense-42: approved" "$out" || { echo "the request was not approved"; exit 1; }
late=$("$bin" "$db" request expense-43 1 2>&1)
echo "$late"
grep -q "expense-43: rejected (no decision in time)" <<< "$late" || { echo "the timeout did not reject"; exit 1; }
