#!/usr/bin/env bash
# Two runs with a pause between: every second from the first tick to the
# last recorded once (the pause's ticks caught up by RunEach, none twice).
set -euo pipefail
bin=$1 work=$2
rm -f "$work"/schedule.db*
"$bin" "$work/schedule.db" 3
sleep 2
out=$("$bin" "$work/schedule.db" 3 2>&1)
echo "$out"
read -r rows _ _ span _ <<< "$(grep -E '^[0-9]+ ticks recorded' <<< "$out")"
[ "$rows" -ge 6 ] || { echo "expected at least 6 ticks, got $rows"; exit 1; }
[ "$rows" -eq "$span" ] || { echo "expected one tick per second ($span), got $rows"; exit 1; }
