#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (a KEEL_FUZZ build with clang in
# its own build directory) and runs each for SECONDS, JOBS at a time, from
# its seeds (tests/fuzz/corpus/<target>/, read only) plus a working corpus in
# the build directory. Prints each run's coverage lines and final stats,
# writes BUILD/fuzz/summary.txt (target, runs, exec/s, cov, ft, result) and
# exits nonzero when any target found a crash, leak or timeout (the input is
# in BUILD/fuzz/artifacts/<target>/; docs/testing.md says how to replay it).
#
# usage: scripts/fuzz.sh BUILD SECONDS JOBS [TARGET...]
# FUZZ_ARGS adds libFuzzer flags to every run (e.g. FUZZ_ARGS=-only_ascii=1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-600}
jobs=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
cxx=${FUZZ_CXX:-clang++-16}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" -DKEEL_FUZZ=ON > /dev/null
cmake --build "$build" -j"$jobs" --target fuzz_targets

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n '/^set(KEEL_FUZZ_TARGETS/,/^)/p' tests/fuzz/CMakeLists.txt | grep -o 'fuzz_[a-z_]*')
fi
out="$build/fuzz"
mkdir -p "$out/logs"

run_one() {
  local t=$1 seconds=$2 out=$3 build=$4
  local seeds="tests/fuzz/corpus/$t" work="$out/corpus/$t" art="$out/artifacts/$t/"
  rm -rf "$art"  # this run's findings only (a fixed crash does not linger)
  mkdir -p "$work" "$art"
  local dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
  # -timeout: an input that takes 10 s is a hang (a timeout-* artifact);
  # -max_len: HTTP bodies and settings stay small; 16 KiB leaves room for
  # deep JSON nesting.
  local rc=0
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" ${FUZZ_ARGS:-} "$work" "$seeds" > "$out/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" > "$out/logs/$t.rc"
  echo "== $t (exit $rc)"
  # The coverage lines (pulse/NEW/REDUCE/DONE) and the final stats.
  grep -E '^#[0-9]+.*(pulse|DONE)|^stat::|ERROR|SUMMARY|FUZZ FINDING' "$out/logs/$t.log" | tail -n 12
}
export -f run_one
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$out" "$build"

summary="$out/summary.txt"
failed=0
{
  printf '%-24s %12s %8s %6s %7s  %s\n' target runs exec/s cov ft result
  for t in "${targets[@]}"; do
    log="$out/logs/$t.log"
    rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
    cov=$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)
    result=ok
    if [ "$rc" != 0 ] || compgen -G "$out/artifacts/$t/*" > /dev/null; then result=FAILED; failed=1; fi
    printf '%-24s %12s %8s %6s %7s  %s\n' "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$result"
  done
  echo "# ${#targets[@]} targets, ${seconds} s each, $jobs at a time: $(( $(date +%s) - start )) s"
} > "$summary"  # not piped into tee: a pipe would run the loop in a subshell and lose $failed
cat "$summary"
if [ "$failed" != 0 ]; then
  echo "fuzz: FAILED: crash/leak/timeout inputs in $out/artifacts/ (see $out/logs/)" >&2
  ls -R "$out/artifacts" | grep -E 'crash-|leak-|timeout-|oom-|slow-unit-' >&2 || true
  exit 1
fi
