#!/usr/bin/env bash
# A run on v1, an unpatched v2 caught by the upgrade check, the patched v2
# passing it, and both runs finishing on v2: each on its own path.
set -euo pipefail
bin=$1 work=$2
db=$work/upgrade.db
rm -f "$db"*
"$bin" "$db" v1 start order-1
set +e
unpatched=$("$bin" "$db" v2-unpatched verify 2>&1); status=$?
set -e
echo "$unpatched"
[ "$status" -eq 1 ] || { echo "the unpatched build passed the check (exit $status)"; exit 1; }
grep -q "MISMATCH order-1 (order, PENDING): at operation 2 the history recorded" <<< "$unpatched" \
  || { echo "the mismatch was not named"; exit 1; }
"$bin" "$db" v2 verify
"$bin" "$db" v2 start order-2
out1=$("$bin" "$db" v2 finish order-1 2>&1); echo "$out1"
out2=$("$bin" "$db" v2 finish order-2 2>&1); echo "$out2"
grep -q "order-1: shipped (v1's path)" <<< "$out1" || { echo "order-1 left v1's path"; exit 1; }
grep -q "order-2: shipped after a fraud check" <<< "$out2" || { echo "order-2 did not take v2's path"; exit 1; }
# A fork of the finished order-1 from position 2 keeps its reservation and
# takes v2's path from there.
"$bin" "$db" v2 fork order-1 order-3 2
out3=$("$bin" "$db" v2 finish order-3 2>&1); echo "$out3"
grep -q "order-3: shipped after a fraud check" <<< "$out3" || { echo "the fork did not take v2's path"; exit 1; }
