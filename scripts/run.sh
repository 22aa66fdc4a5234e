#!/usr/bin/env bash
# The main job: the payment service and the shop on SQLite, in the foreground.
# Ctrl-C (or SIGTERM) stops both. Databases live in ./run-data/.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p run-data
secret=${WEBHOOK_SECRET:-whsec_dev}
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT
"$build/bin/payments" start --db sqlite:run-data/payments.db --port "${PAYMENTS_PORT:-8086}" \
  --webhook-secret "$secret" &
pids+=($!)
"$build/bin/shop" start --db sqlite:run-data/shop.db --port "${SHOP_PORT:-8082}" \
  --payments-url "http://127.0.0.1:${PAYMENTS_PORT:-8086}" --webhook-secret "$secret" &
pids+=($!)
# Exit when either service exits; the trap stops the other.
wait -n "${pids[@]}"
