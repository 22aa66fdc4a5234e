#!/usr/bin/env bash
# Checks that run_test.sh fails a test whose process exited 0 while a child
# it SIGKILLed had written a ThreadSanitizer report (race_probe.cpp), and
# names the report. Uses a reports directory of its own, so the deliberate
# report does not count as a finding of the suite (scripts/tsan.sh).
# usage: selftest.sh RUN_TEST SUPPRESSIONS PROBE REPORTS_DIR
set -u
run_test=$1 suppressions=$2 probe=$3 reports=$4
rm -rf "$reports"
out=$("$run_test" "$reports" "$suppressions" "$probe" 2>&1)
rc=$?
rm -rf "$reports"
echo "$out"
if [[ $rc -ne 66 ]]; then
  echo "FAIL: run_test.sh exited $rc, expected 66 (TSan report in a killed child)"
  exit 1
fi
if ! grep -q 'WARNING: ThreadSanitizer: data race' <<<"$out" || ! grep -q 'race_probe.cpp' <<<"$out"; then
  echo "FAIL: run_test.sh did not print the child's report"
  exit 1
fi
echo "OK: the killed child's report failed the test"
