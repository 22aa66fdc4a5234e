#!/usr/bin/env bash
# Keel used from outside its tree (ctest -L consumer; tests/consumer/CMakeLists.txt):
#   run.sh install  SRC BUILD WORK   install BUILD into a fresh prefix WORK/prefix
#   run.sh headers  SRC BUILD WORK   every installed public header compiles alone
#   run.sh package  SRC BUILD WORK   find_package(keel 0.2) against WORK/prefix
#   run.sh pkgconfig SRC BUILD WORK  pkg-config --cflags --libs keel against WORK/prefix
#   run.sh subdirectory SRC BUILD WORK   add_subdirectory(SRC)
#   run.sh fetchcontent SRC BUILD WORK   FetchContent from SRC
#   run.sh deb      SRC BUILD WORK   cpack -G DEB, apt-get install ./*.deb, a consumer
#                                    against /usr, the keel command, then remove them
# Each consumer runs a durable workflow twice on one SQLite file and must print
# the same line both times.
set -euo pipefail
mode=$1 src=$2 build=$3 work=$4
prefix=$work/prefix
app=$src/tests/consumer/app
expected="hello keel! (keel $(sed -n 's/.*project(keel VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")"

fail() { echo "consumer $mode: $*" >&2; exit 1; }

# Runs a consumer binary twice on one database; checks its line.
check_runs() {
  local bin=$1 db=$work/$mode.db
  rm -f "$db"*
  for run in 1 2; do
    local out
    out=$("$bin" "$db")
    echo "run $run: $out"
    [[ $out == "$expected"* ]] || fail "run $run printed '$out', expected '$expected...'"
    [[ $out == *", 1 greeting)" ]] || fail "run $run: the transaction ran more than once: '$out'"
  done
}

configure_and_build() {  # dir, cmake args...
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S "$app" -B "$dir" "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; fail "configure"; }
  cmake --build "$dir" -j2 > "$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; fail "build"; }
}

mkdir -p "$work"
case $mode in
  install)
    rm -rf "$prefix"
    cmake --install "$build" --prefix "$prefix" > "$work/install.log"
    for f in include/keel/keel.hpp include/keel/version.hpp lib/cmake/keel/keelConfig.cmake \
             lib/cmake/keel/keelConfigVersion.cmake lib/pkgconfig/keel.pc bin/keel; do
      [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
    done
    soname=$(objdump -p "$prefix"/lib/libkeel.so | sed -n 's/ *SONAME *//p')
    [[ $soname == libkeel.so.* ]] || fail "libkeel.so has no SONAME ($soname)"
    echo "installed into $prefix; SONAME $soname"
    "$prefix/bin/keel" --version
    ;;
  headers)
    json=$(pkg-config --cflags nlohmann_json)
    for h in "$prefix"/include/keel/*.hpp; do
      echo "#include <keel/$(basename "$h")>" | g++ -std=c++20 -fsyntax-only -Wall -Wextra -I"$prefix/include" $json -x c++ - \
        || fail "keel/$(basename "$h") does not compile alone against the installed tree"
    done
    echo "$(ls "$prefix"/include/keel/*.hpp | wc -l) public headers compile alone"
    ;;
  package)
    configure_and_build "$work/package" -DKEEL_CONSUME=package -DCMAKE_PREFIX_PATH="$prefix"
    check_runs "$work/package/consumer"
    ;;
  pkgconfig)
    flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs keel)
    echo "pkg-config: $flags"
    # shellcheck disable=SC2086
    g++ -std=c++20 "$app/main.cpp" -o "$work/pkgconfig-consumer" $flags -Wl,-rpath,"$prefix/lib"
    check_runs "$work/pkgconfig-consumer"
    ;;
  subdirectory|fetchcontent)
    configure_and_build "$work/$mode" -DKEEL_CONSUME="$mode" -DKEEL_SOURCE_DIR="$src"
    check_runs "$work/$mode/consumer"
    ;;
  deb)
    [ "$(id -u)" -eq 0 ] || { echo "SKIPPED: installing .deb packages needs root"; exit 77; }
    debs=$work/debs
    rm -rf "$debs" && mkdir -p "$debs"
    (cd "$build" && cpack -G DEB -B "$debs" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
    ls "$debs"/*.deb
    for d in "$debs"/*.deb; do dpkg-deb -f "$d" Package Depends; done
    dpkg-deb -f "$debs"/libkeel0*.deb Depends | grep -q libsqlite3 || fail "the library's Depends lack libsqlite3"
    pkgs=$(for d in "$debs"/*.deb; do dpkg-deb -f "$d" Package; done | tr '\n' ' ')
    remove() { DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq $pkgs > /dev/null 2>&1 || true; }
    trap remove EXIT
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$debs"/*.deb > "$work/apt.log" 2>&1 \
      || { cat "$work/apt.log"; fail "apt-get install"; }
    configure_and_build "$work/deb-package" -DKEEL_CONSUME=package
    check_runs "$work/deb-package/consumer"
    # shellcheck disable=SC2046
    g++ -std=c++20 "$app/main.cpp" -o "$work/deb-pkgconfig" $(pkg-config --cflags --libs keel)
    check_runs "$work/deb-pkgconfig"
    keel --version
    remove
    trap - EXIT
    ! dpkg -s libkeel-dev > /dev/null 2>&1 || fail "libkeel-dev is still installed after the removal"
    echo "packages installed, used and removed: $pkgs"
    ;;
  *) fail "unknown mode" ;;
esac
