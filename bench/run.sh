#!/usr/bin/env bash
# Runs the benchmarks and, when PyTorch is installed, the same workloads in
# PyTorch, printing each figure beside ours with the ratio.
#   bench/run.sh BUILD_DIR [mlp|cnn|gemm|conv|all]
set -euo pipefail
BUILD="$1"
NAME="${2:-all}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

# Debian's python3 (PyTorch is a Debian package, not a pip one).
PYTHON=/usr/bin/python3
have_torch() { "$PYTHON" -c "import torch" 2>/dev/null; }

# ratio OURS_KEY TORCH_KEY HIGHER_IS_BETTER
ratio() {
  awk -v a="$1" -v b="$2" -v higher="$3" -F': ' '
    $1 == a { ours = $2 } $1 == b { theirs = $2 }
    END {
      if (ours == "" || theirs == "" || theirs == 0 || ours == 0) exit
      r = higher ? ours / theirs : theirs / ours
      printf "%s_vs_torch: %.2fx (sequent %s, PyTorch %s)\n", a, r, ours, theirs
    }' "$OUT"
}

run_mlp() {
  "$BUILD/bench/mlp_bench" | tee -a "$OUT"
  "$BUILD/bench/gemm_bench" | grep -E '^(fma_peak|gemm_1024)' | tee -a "$OUT"
  if have_torch; then
    OPENBLAS_NUM_THREADS=1 "$PYTHON" "$HERE/torch_mlp.py" | tee -a "$OUT"
    ratio mlp_train_bs32_img_s torch_mlp_train_bs32_img_s 1
    ratio mlp_train_bs128_img_s torch_mlp_train_bs128_img_s 1
    ratio mlp_infer_bs1_us torch_mlp_infer_bs1_us 0
  else
    echo "torch: not installed (python3-torch), comparison skipped"
  fi
}

run_cnn() {
  "$BUILD/bench/cnn_bench" | tee -a "$OUT"
  "$BUILD/bench/conv_bench" | grep -E '^(fma_peak|vgg_conv_fwd)' | tee -a "$OUT"
  if have_torch; then
    OPENBLAS_NUM_THREADS=1 "$PYTHON" "$HERE/torch_cnn.py" | tee -a "$OUT"
    for key in lenet_train_bs4_img_s lenet_train_bs64_img_s \
               vgg_train_bs64_img_s vgg_infer_bs64_img_s; do
      ratio "$key" "torch_$key" 1
    done
    ratio lenet_infer_bs1_us torch_lenet_infer_bs1_us 0
    ratio vgg_infer_bs1_us torch_vgg_infer_bs1_us 0
  else
    echo "torch: not installed (python3-torch), comparison skipped"
  fi
}

case "$NAME" in
  mlp) run_mlp ;;
  cnn) run_cnn ;;
  gemm) "$BUILD/bench/gemm_bench" ;;
  conv) "$BUILD/bench/conv_bench" ;;
  all) run_mlp; run_cnn ;;
  *) echo "unknown benchmark '$NAME' (mlp, cnn, gemm, conv, all)" >&2; exit 2 ;;
esac
