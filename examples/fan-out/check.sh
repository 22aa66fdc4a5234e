#!/usr/bin/env bash
# Ten tasks, at most two at once, all results gathered.
set -euo pipefail
bin=$1 work=$2
rm -f "$work"/fan-out.db*
out=$("$bin" "$work/fan-out.db" 2>&1)
echo "$out"
grep -Eq "10 tasks done, total 550, at most [12] at once" <<< "$out" || { echo "unexpected output"; exit 1; }
