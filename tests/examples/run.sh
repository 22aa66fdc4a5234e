#!/usr/bin/env bash
# Builds examples/NAME out of the source tree against the installed prefix
# (tests/consumer: consumer.install), then runs its check.sh.
#   run.sh NAME SRC WORK PREFIX
set -euo pipefail
name=$1 src=$2 work=$3/$1 prefix=$4
rm -rf "$work" && mkdir -p "$work"
cmake -S "$src/examples/$name" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
bin=$(find "$work/build" -maxdepth 1 -type f -executable -name "$name" | head -1)
[ -n "$bin" ] || { echo "examples/$name built no program named $name"; exit 1; }
"$src/examples/$name/check.sh" "$bin" "$work"
