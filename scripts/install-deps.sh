#!/usr/bin/env bash
# Installs the Debian 12 packages Keel needs to build and test. Idempotent:
# does nothing when everything is already present.
set -euo pipefail
pkgs=(g++ cmake make pkg-config sqlite3 libsqlite3-dev nlohmann-json3-dev doxygen
      libcpp-httplib-dev libspdlog-dev libfmt-dev libcli11-dev libssl-dev
      libgtest-dev libgmock-dev libbenchmark-dev curl postgresql libpq-dev dpkg-dev
      prometheus chromium chromium-driver
      tzdata  # schedules' named time zones (/usr/share/zoneinfo) and their tests
      clang-16 libclang-rt-16-dev)  # make fuzz: clang 16 (14 lacks std::source_location), libFuzzer
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
