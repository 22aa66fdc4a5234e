#!/usr/bin/env bash
# Runs one test command of a ThreadSanitizer build (-DKEEL_SANITIZE=thread)
# and fails it when any process of the test wrote a race report: the test
# binary itself and every process it starts (the shop, the payment service,
# crash workers, the keel command, forked sweep children), which all inherit
# TSAN_OPTIONS and are TSan builds of the same tree.
#
# tests/CMakeLists.txt makes this script the CROSSCOMPILING_EMULATOR of every
# test target, so ctest runs `run_test.sh REPORTS_DIR SUPPRESSIONS test-binary
# args...` (gtest_discover_tests and add_test both honour it).
#
# Why a report file and not the exit code: TSan's exit code (exitcode=66)
# only comes out of a process that exits normally; a child the test SIGKILLs
# (crash tests, torture) or stops without looking at its status would lose
# the report. With log_path, TSan writes each report to REPORTS_DIR/run.X/tsan.<pid>
# as it is found (plain write(2), no buffering), so a report survives the
# SIGKILL that follows it. The test fails when the directory holds any file.
set -u
reports_root=$1
suppressions=$2
shift 2

mkdir -p "$reports_root"
dir=$(mktemp -d "$reports_root/run.XXXXXX")
# Which test this was, for whoever finds the directory later.
printf '%s\n' "$*" > "$dir/command"

# Our defaults first, then the caller's TSAN_OPTIONS (later values win), then
# what this check relies on: where reports go, the exit code, suppressions.
# halt_on_error=0: a race is reported and the process goes on, so one run
# shows every race (the report file fails the test anyway).
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 ${TSAN_OPTIONS:-} exitcode=66 log_path=$dir/tsan suppressions=$suppressions"

"$@"
rc=$?

shopt -s nullglob
reports=("$dir"/tsan.*)
if (( ${#reports[@]} == 0 )); then
  rm -rf "$dir"
  exit "$rc"
fi
{
  echo "=== ThreadSanitizer: ${#reports[@]} process(es) of this test wrote reports (kept in $dir; exit code was $rc)"
  for f in "${reports[@]}"; do
    echo "=== $f"
    # A report is some 50 lines; a process with many keeps its first ones here.
    head -n 400 "$f"
  done
} >&2
(( rc != 0 )) && exit "$rc"
exit 66
