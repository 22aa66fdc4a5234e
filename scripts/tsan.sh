#!/usr/bin/env bash
# The suite under ThreadSanitizer in BUILD (a -DKEEL_SANITIZE=thread Debug
# build): `make tsan` (short) and `make tsan-all` (all). docs/testing.md,
# "ThreadSanitizer", says what each runs.
#
#   short  the library's tests (label concurrency), the apps' and the
#          end-to-end tests on SQLite (labels e2e, shop, payments), the crash
#          tests (label crash) with one kill point in KEEL_CRASH_SWEEP_STRIDE
#          (default here 4), the torture test's sanitized short run, the
#          schedules', streams', queues' and debouncing's tests (labels
#          schedules, streams, queues, debounce; their crash tests too).
#          Builds only the targets these need.
#   all    every test of the build but the labels failover, fulldisk and
#          browser: also PostgreSQL (the throwaway cluster of tests/postgres
#          on KEEL_PG_TEST_PORT), the admin server, the keel command, queues,
#          scale-out; crash tests at the sanitizer default stride (2).
#
# Every test runs through tests/tsan/run_test.sh, which fails it when any of
# its processes wrote a report; at the end this script lists every report
# kept under BUILD/tsan-reports/ and fails when there is one, whatever ctest
# said.
#
# usage: scripts/tsan.sh BUILD short|all [ctest args...]
# CMAKE_ARGS adds configure flags (e.g. -DKEEL_PG_TEST_PORT=N); JOBS the build's jobs.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-tsan}
form=${2:-short}
shift $(( $# < 2 ? $# : 2 ))
jobs=${JOBS:-$(nproc)}

case "$form" in
  short)
    targets=(keel_tests shop payments shop_core payments_lib shop_e2e_tests shop_prometheus_tests checkout_sweep_tests
             shop_torture shop_settings_tests shop_input_tests shop_pages_tests http_service_tests payments_tests
             payments_model_tests tsan_race_probe keel_crash_worker keel_crash_tests keel_crash_sweep_tests
             keel_schedule_worker keel_schedule_tests keel_stream_worker keel_stream_tests keel_queue_worker
             keel_partition_worker keel_queue_tests keel_debounce_worker keel_debounce_tests)
    select=(-L '^(concurrency|e2e|shop|payments|crash|torture|schedules|streams|queues|debounce)$'
            -LE '^(postgres|failover|fulldisk|browser)$')
    export KEEL_CRASH_SWEEP_STRIDE=${KEEL_CRASH_SWEEP_STRIDE:-4}
    ;;
  all)
    targets=(all)
    select=(-LE '^(failover|fulldisk|browser)$')
    ;;
  *) echo "usage: $0 BUILD short|all [ctest args...]" >&2; exit 2 ;;
esac

t0=$(date +%s)
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DKEEL_SANITIZE=thread ${CMAKE_ARGS:-} > /dev/null || exit 1
cmake --build "$build" -j"$jobs" --target "${targets[@]}" || exit 1
t1=$(date +%s)
echo "== tsan $form: build took $(( t1 - t0 )) s"

reports="$build/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
# Processes that a test starts outside run_test.sh (none today) still write
# their reports where the check below looks.
export TSAN_OPTIONS="${TSAN_OPTIONS:-} log_path=$(realpath "$reports")/outside/tsan"
(cd "$build" && ctest --output-on-failure -j2 --timeout 900 "${select[@]}" "$@")
rc=$?
t2=$(date +%s)
echo "== tsan $form: tests took $(( t2 - t1 )) s (ctest exit $rc)"

shopt -s nullglob
found=("$reports"/*/tsan.*)
if (( ${#found[@]} > 0 )); then
  echo "== ThreadSanitizer reports (${#found[@]} files):"
  for d in "$reports"/*/; do
    files=("$d"tsan.*)
    (( ${#files[@]} )) || continue
    echo "  $d: ${#files[@]} file(s); test: $(cat "$d/command" 2>/dev/null || echo '(outside run_test.sh)')"
    grep -h '^SUMMARY: ThreadSanitizer' "${files[@]}" | sort | uniq -c | sed 's/^/    /'
  done
  exit 1
fi
exit "$rc"
