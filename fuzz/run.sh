#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan), seeds
# each with a valid input and runs each for a bounded time.
#   fuzz/run.sh [SECONDS_PER_FUZZER] (default 60)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-60}"
BUILD="${SEQUENT_FUZZ_BUILD:-$ROOT/build-fuzz}"
WORK="$BUILD/fuzz-work"

for pkg in clang-14 libclang-rt-14-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    echo "[fuzz] installing $pkg" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DSEQUENT_FUZZ=ON \
  -DSEQUENT_BUILD_TESTS=OFF -DSEQUENT_BUILD_EXAMPLES=OFF \
  -DSEQUENT_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
rm -rf "$WORK/seeds"
"$BUILD/fuzz/make_fuzz_seeds" "$WORK/seeds"
status=0
for fuzzer in idx_fuzzer cifar10_fuzzer model_file_fuzzer image_fuzzer; do
  corpus="$WORK/corpus/$fuzzer"
  mkdir -p "$corpus" "$WORK/crashes/$fuzzer"
  echo "[fuzz] $fuzzer for ${SECONDS_EACH}s" >&2
  if ! "$BUILD/fuzz/$fuzzer" -max_total_time="$SECONDS_EACH" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$WORK/crashes/$fuzzer/" \
      "$corpus" "$WORK/seeds/$fuzzer" > "$WORK/$fuzzer.log" 2>&1; then
    echo "[fuzz] $fuzzer FOUND A PROBLEM: see $WORK/$fuzzer.log and $WORK/crashes/$fuzzer" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$WORK/$fuzzer.log" | tail -2
done
exit $status
