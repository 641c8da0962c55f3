"""Speed of the point encoder F: clips/s at batch 1 and 64, peak memory, and the fraction
of this machine's measured matrix-multiply rate that F achieves.

Run: python benchmarks/bench_encoder.py [--preset small] [--threads N]
Clips: 64 frames, 2 persons, COCO-17 (random poses; speed does not depend on the values).
All figures come from one run, so the ratios are comparable; absolute times vary by machine.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from skelprompt.clip import Clip
from skelprompt.model import untrained_model
from skelprompt.points import clips_to_batch


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def encoder_flops_per_clip(model, num_points: float) -> float:
    """Multiply-adds x 2 of the per-point layers (the pool and norms are negligible)."""
    lin = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    return 2.0 * num_points * sum(m.in_features * m.out_features for m in lin)


def time_batches(model, pts: torch.Tensor, mask: torch.Tensor, batch: int, seconds: float = 3.0) -> float:
    n = 0
    with torch.inference_mode():
        model.features(pts[:batch], mask[:batch])
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            model.features(pts[:batch], mask[:batch])
            n += batch
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    clips = [Clip.create(rng.random((2, 64, 17, 2)) * 500, layout="coco17") for _ in range(64)]
    model = untrained_model(args.preset)
    cfg = model.cfg.points
    t = time.perf_counter()
    pts, mask = clips_to_batch(clips, cfg)
    encode_ms = (time.perf_counter() - t) / len(clips) * 1e3
    pts_t, mask_t = torch.from_numpy(pts), torch.from_numpy(mask)
    peak = matmul_gflops()
    valid_points = float(mask.sum(1).mean())  # only valid points are computed (packed)
    flops = encoder_flops_per_clip(model, valid_points)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, preset {args.preset}, "
          f"{sum(p.numel() for p in model.encoder.parameters())} encoder parameters")  # fmt: skip
    print(f"points per clip: {valid_points:.0f} valid of {cfg.num_points} slots "
          f"({cfg.frames} frames x {cfg.persons} person slots x 13 joints)")  # fmt: skip
    print(f"matmul 1024^2: {peak:.1f} GFLOP/s")
    print(f"point encoding (NumPy, per clip): {encode_ms:.2f} ms")
    for batch in (1, 64):
        rate = time_batches(model, pts_t, mask_t, batch)
        achieved = rate * flops / 1e9
        print(f"batch {batch:3d}: {rate:8.1f} clips/s, {1e3 / rate:7.2f} ms/clip, "
              f"{achieved:6.1f} GFLOP/s = {100 * achieved / peak:5.1f}% of matmul")  # fmt: skip
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
