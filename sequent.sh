#!/usr/bin/env bash
# sequent's driver: installs what is missing, configures, builds, runs.
#
#   ./sequent.sh demo [ARGS]       the main job: train the Fashion-MNIST CNN,
#                                  write pictures, report and model to out/
#   ./sequent.sh test              build everything and run the CTest suite
#   ./sequent.sh run EXAMPLE [ARGS]  build if needed and run an example
#   ./sequent.sh bench [NAME]      benchmarks: mlp, cnn, gemm, conv (all)
#   ./sequent.sh build             configure and build only
#   ./sequent.sh sanitize          the test suite under ASan + UBSan
#   ./sequent.sh fuzz [SECONDS]    libFuzzer on every file reader
#
# Environment: SEQUENT_BUILD_DIR (default ./build), SEQUENT_JOBS (default
# the number of cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${SEQUENT_BUILD_DIR:-$ROOT/build}"
JOBS="${SEQUENT_JOBS:-$(nproc)}"

# Debian 12 packages the library, its tests and its examples need.
BUILD_PACKAGES=(g++ cmake make libhwy-dev libboost-dev libboost-test-dev
                libstb-dev zlib1g-dev dataset-fashion-mnist)
# Only for the PyTorch comparison in bench/ (Debian's torch uses the
# reference BLAS unless OpenBLAS is installed: it would be ~5x slower).
BENCH_PACKAGES=(python3 python3-torch python3-numpy libopenblas0-pthread)

log() { printf '[sequent] %s\n' "$*" >&2; }

# shellcheck source=scripts/packages.sh
source "$ROOT/scripts/packages.sh"

configure() {
  install_packages "${BUILD_PACKAGES[@]}"
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    log "configuring in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
}

build() {
  configure
  log "building (${JOBS} jobs)"
  cmake --build "$BUILD" -j "$JOBS" "$@"
}

run_example() {
  local name="${1:?usage: ./sequent.sh run EXAMPLE [ARGS]}"
  shift
  if [ ! -f "$ROOT/examples/$name.cpp" ]; then
    log "no example '$name'; there are:"
    ls "$ROOT/examples" | sed -n 's/\.cpp$//p' >&2
    return 2
  fi
  build --target "$name" >/dev/null
  "$BUILD/examples/$name" "$@"
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build ;;
  test)
    build
    log "running the test suite"
    ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
    ;;
  demo) run_example demo "$@" ;;
  run) run_example "$@" ;;
  bench)
    install_packages "${BENCH_PACKAGES[@]}" ||
      log "PyTorch could not be installed: its comparison will be skipped"
    build >/dev/null
    "$ROOT/bench/run.sh" "$BUILD" "$@"
    ;;
  sanitize)
    install_packages "${BUILD_PACKAGES[@]}"
    SAN="${SEQUENT_BUILD_DIR:-$ROOT/build}-asan"
    cmake -S "$ROOT" -B "$SAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSEQUENT_SANITIZE=ON -DSEQUENT_BUILD_BENCH=OFF >/dev/null
    cmake --build "$SAN" -j "$JOBS"
    ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$SAN" --output-on-failure \
      -j "$JOBS" "$@"
    ;;
  fuzz) install_packages "${BUILD_PACKAGES[@]}"; "$ROOT/fuzz/run.sh" "$@" ;;
  help | -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0" ;;
  *)
    log "unknown command '$cmd'"
    sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
