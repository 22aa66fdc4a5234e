#!/usr/bin/env bash
# Runs long-lived, kills it (SIGKILL) after the seventh bill (in its second
# run), runs it again: the total is 1 + ... + 20 = 210 after four hand-overs,
# every usage was billed (a bill killed before its record may repeat: a step
# is at least once), and the kept history is the last run's alone.
set -euo pipefail
bin=$1 work=$2
db=$work/long-lived.db
rm -f "$db"*
out1=$work/long-lived-1.out
"$bin" "$db" > "$out1" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "billed 7$" "$out1" && break; sleep 0.05; done
grep -q "billed 7$" "$out1" || { cat "$out1"; echo "the seventh bill never came"; exit 1; }
kill -9 "$pid"
wait "$pid" || true
out2=$("$bin" "$db" 2>&1)
echo "--- first run (killed)"; cat "$out1"; echo "--- second run"; echo "$out2"
all="$(cat "$out1")"$'\n'"$out2"
for usage in $(seq 20); do
  n=$(grep -c "^billed $usage$" <<< "$all" || true)
  [ "$n" -ge 1 ] && [ "$n" -le 2 ] || { echo "usage $usage billed $n times"; exit 1; }
done
[ "$(grep -c '^billed ' <<< "$all")" -le 21 ] || { echo "more than one bill repeated"; exit 1; }
grep -q "total: 210, hand-overs: 4, records kept: [0-9]$" <<< "$out2" || { echo "wrong total, hand-overs or history"; exit 1; }
