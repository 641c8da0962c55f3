"""Run a frozen model over clips in batches: features F(x) and projections f(x)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.model.network import SkeletonTextModel
from skelprompt.points import clips_to_batch


@torch.no_grad()
def extract_features(
    model: SkeletonTextModel, clips: list[Clip], batch_size: int = 64, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(features [B, S], embeddings [B, D])`` as float32 NumPy arrays."""
    model.eval()
    feats, embs = [], []
    cfg = model.cfg.points
    bar = tqdm(
        total=len(clips), desc="features", unit="clip", disable=not progress or len(clips) < 2 * batch_size
    )
    for i in range(0, len(clips), batch_size):
        pts, mask = clips_to_batch(clips[i : i + batch_size], cfg)
        f = model.features(torch.from_numpy(pts), torch.from_numpy(mask))
        feats.append(f.numpy())
        embs.append(model.project(f).numpy())
        bar.update(len(clips[i : i + batch_size]))
    bar.close()
    s, d = model.cfg.feature_dim, model.cfg.text_dim
    if not feats:
        return np.zeros((0, s), np.float32), np.zeros((0, d), np.float32)
    return np.concatenate(feats).astype(np.float32), np.concatenate(embs).astype(np.float32)
