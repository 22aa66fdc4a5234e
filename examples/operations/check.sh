#!/usr/bin/env bash
# Runs the example: seven orders listed three a page, three stuck workflows
# counted, cancelled and deleted, seven workflows left, the disk not full.
set -euo pipefail
bin=$1 work=$2
db=$work/operations.db
rm -f "$db"*
out=$("$bin" "$db" 2> "$work/operations.log")
echo "$out"; cat "$work/operations.log"
grep -qx "page 1 of 7 orders: order-0 order-1 order-2" <<< "$out" || { echo "first page wrong"; exit 1; }
grep -qx "page 3 of 7 orders: order-6" <<< "$out" || { echo "last page wrong"; exit 1; }
grep -qx "would cancel: 3" <<< "$out" || { echo "dry run wrong"; exit 1; }
grep -qx "cancelled: 3" <<< "$out" || { echo "cancel wrong"; exit 1; }
grep -qx "deleted: 3" <<< "$out" || { echo "delete wrong"; exit 1; }
grep -qx "left: 7" <<< "$out" || { echo "count after delete wrong"; exit 1; }
grep -qx "storage full: no" <<< "$out" || { echo "storage_full_since wrong"; exit 1; }
