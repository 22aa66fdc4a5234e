#!/usr/bin/env bash
# Runs the sweep: it must crash at several points and hold at all of them.
set -euo pipefail
bin=$1
out=$("$bin" 2>/dev/null)
echo "$out"
grep -q "every crash point held" <<< "$out" || { echo "the sweep failed"; exit 1; }
[ "$(grep -c ' crashed, ' <<< "$out")" -ge 4 ] || { echo "too few crash points were swept"; exit 1; }
