#!/usr/bin/env bash
# The README's program: paid, two reserved. Run again on the same file: the
# same order (the ID is an idempotency key), nothing reserved twice.
set -euo pipefail
bin=$1 work=$2
rm -f "$work"/quickstart.db*
for run in 1 2; do
  out=$("$bin" "$work/quickstart.db" 2>&1)
  echo "run $run: $out"
  grep -q "payment session: cs_order-42:2" <<< "$out" || { echo "no session"; exit 1; }
  grep -q "order-42 paid, 98 left in stock" <<< "$out" || { echo "unexpected outcome"; exit 1; }
done
