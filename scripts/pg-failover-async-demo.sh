#!/usr/bin/env bash
# The honest counter-example of docs/postgres.md ("Failover"): under
# asynchronous replication a failover loses a commit that the primary had
# acknowledged; under synchronous replication the same commit is never
# acknowledged, so nothing acknowledged is lost.
#
# For each mode, on a pair of its own (scripts/pg-failover-cluster.sh on
# ${KEEL_PG_DEMO_PORTS:-19388,19389}): a row committed and replicated; the
# standby then cut off from the primary (its primary_conninfo emptied: a
# network partition, or a standby that lags); a second row committed on the
# primary; the primary SIGKILLed; the standby promoted; the rows counted on the
# new primary. Exit status 0 when both modes behave as stated (async: the
# acknowledged row is gone; sync: the row was not acknowledged), 1 otherwise.
set -euo pipefail
shopt -s inherit_errexit  # a failed step inside $(run_mode ...) ends the run

here="$(cd "$(dirname "$0")" && pwd)"
PORTS="${KEEL_PG_DEMO_PORTS:-19388,19389}"

pair() { KEEL_PG_FAILOVER_PORTS="$PORTS" KEEL_PG_FAILOVER_ASYNC="$mode_async" "$here/pg-failover-cluster.sh" "$@"; }
psql_port() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d keel_test "${@:2}"; }
cleanup() { mode_async=0 pair stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Prints "acknowledged" or "not acknowledged", then the rows left after the failover.
run_mode() {
  mode_async="$1"
  pair stop >/dev/null
  url="$(pair start)"
  primary="$(pair primary)"
  standby="$(pair standby)"
  psql "$url" -X -q -c "CREATE TABLE ledger (id INT PRIMARY KEY)" -c "INSERT INTO ledger VALUES (1)"
  for _ in $(seq 1 100); do  # row 1 is on the standby
    [ "$(psql_port "$standby" -tAc "SELECT count(*) FROM ledger" 2>/dev/null || true)" = "1" ] && break
    sleep 0.1
  done
  # Cut the standby off (ALTER SYSTEM works in recovery; the WAL receiver
  # stops when primary_conninfo is emptied).
  psql_port "$standby" -c "ALTER SYSTEM SET primary_conninfo = ''" -c "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 1 100); do
    [ "$(psql_port "$primary" -tAc "SELECT count(*) FROM pg_stat_replication")" = "0" ] && break
    sleep 0.1
  done
  if timeout 3 psql "$url" -X -q -c "INSERT INTO ledger VALUES (2)" >/dev/null 2>&1; then
    ack="acknowledged"
  else
    ack="not acknowledged"
  fi
  pair kill
  pair promote
  rows="$(psql "$url" -X -tAc "SELECT string_agg(id::text, ',' ORDER BY id) FROM ledger")"
  pair stop
  echo "$ack $rows"
}

status=0
read -r -a async_result <<<"$(run_mode 1 | tr ' ' '_' | sed 's/_\([0-9,]*\)$/ \1/')"
read -r -a sync_result <<<"$(run_mode 0 | tr ' ' '_' | sed 's/_\([0-9,]*\)$/ \1/')"
echo "asynchronous: INSERT of row 2 ${async_result[0]//_/ }; rows on the promoted standby: ${async_result[1]}"
echo "synchronous:  INSERT of row 2 ${sync_result[0]//_/ } (3 s); rows on the promoted standby: ${sync_result[1]}"
if [ "${async_result[0]}" = "acknowledged" ] && [ "${async_result[1]}" = "1" ]; then
  echo "  -> asynchronous replication lost an acknowledged commit"
else
  echo "  -> unexpected: the asynchronous run did not lose the acknowledged commit"; status=1
fi
if [ "${sync_result[0]}" = "not_acknowledged" ] && [ "${sync_result[1]}" = "1" ]; then
  echo "  -> synchronous replication never acknowledged the commit it could not replicate: nothing acknowledged was lost"
else
  echo "  -> unexpected synchronous result"; status=1
fi
exit "$status"
