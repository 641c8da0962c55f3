"""Data-side cost of the pretraining recipes: clips/s of augmentation + point encoding, per recipe file.

The network's cost is the same in both recipes (same model, same frames), so this isolates what
the new pieces add per clip. Usage: python benchmarks/pretrain_recipe_speed.py [DATA_ROOT]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from skelprompt.points import PointConfig, clips_to_batch
from skelprompt.pretrain.augment import build_augment
from skelprompt.pretrain.config import PretrainConfig
from skelprompt.pretrain.data import build_pool
from skelprompt.pretrain.synth_pairs import with_synthetic_pairs


def clips_per_second(cfg: PretrainConfig, data_root: str, n: int = 600) -> float:
    pool = with_synthetic_pairs(build_pool(cfg, data_root), cfg)
    aug = build_augment(cfg.augment)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(pool.clips), n)
    pcfg = PointConfig(frames=cfg.train_frames)
    t0 = time.perf_counter()
    for i in range(0, n, 32):
        clips_to_batch([aug(pool.clips[j], rng) for j in idx[i : i + 32]], pcfg, rng)
    return n / (time.perf_counter() - t0)


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    recipes = {}
    for name in ("old", "default", "pose2d"):
        cfg = PretrainConfig.from_yaml(f"configs/pretrain_{name}.yaml")
        recipes[f"{name} recipe"] = replace(
            cfg, max_clips_per_dataset=150, synth_pairs=min(cfg.synth_pairs, 150)
        )
    for name, cfg in recipes.items():
        print(f"{name}: {clips_per_second(cfg, root):.0f} clips/s (augment + points, 1 process)")


if __name__ == "__main__":
    main()
