#!/usr/bin/env bash
# Runs hello, kills it (SIGKILL) while step 2 runs, runs it again: step 1
# ran once, step 3 once, and the workflow finished with 6.
set -euo pipefail
bin=$1 work=$2
db=$work/hello.db
rm -f "$db"*
out1=$work/hello-1.out
"$bin" "$db" > "$out1" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "running step 2" "$out1" && break; sleep 0.1; done
grep -q "running step 2" "$out1" || { cat "$out1"; echo "step 2 never started"; exit 1; }
kill -9 "$pid"
wait "$pid" || true
out2=$("$bin" "$db" 2>&1)
echo "--- first run (killed)"; cat "$out1"; echo "--- second run"; echo "$out2"
all="$(cat "$out1")"$'\n'"$out2"
[ "$(grep -c 'running step 1' <<< "$all")" -eq 1 ] || { echo "step 1 ran again"; exit 1; }
[ "$(grep -c 'running step 3' <<< "$all")" -eq 1 ] || { echo "step 3 did not run exactly once"; exit 1; }
grep -q "done: 6" <<< "$out2" || { echo "the workflow did not finish with 6"; exit 1; }
