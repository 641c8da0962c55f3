#!/usr/bin/env bash
# Pretrain the leave-one-data-set-out models the benchmarks use (one per benchmark data set),
# into ${SKELPROMPT_CACHE:-~/.cache/skelprompt}/models/without-<name>.safetensors.
# Usage: bash scripts/pretrain_leave_out.sh [sbu k3hi msr jhmdb nw_ucla urfd]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SKELPROMPT_DATA_ROOT:-../shared/data}"
OUT="${SKELPROMPT_CACHE:-$HOME/.cache/skelprompt}/models"
mkdir -p "$OUT"
for name in "${@:-sbu k3hi msr jhmdb nw_ucla urfd}"; do
  for n in $name; do
    echo "== without $n"
    skelprompt pretrain --data-root "$DATA" --config configs/pretrain_default.yaml --exclude "$n" \
      --out "$OUT/without-$n.safetensors" --no-progress
  done
done
