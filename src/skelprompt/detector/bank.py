"""The normal rows an OoD scorer keeps (its memory bank), built without an N x N matrix.

Every normal clip gives one row per variant (itself, mirrored, person-swapped; ``sources``).
A bank of at most ``DetectorConfig.bank_size`` rows is all of them; a larger set is reduced to
a greedy k-center coreset, as anomalib's PatchCore does: each pick is the row farthest from
the rows picked so far, so every normal row lies close to one that is kept, and rare normal
poses survive the reduction where random sampling would drop them. The picks are made on a
fixed random projection of the rows (cheap, and distances are kept up to a small factor);
variant rows are made a block of clips at a time, so the full variant set never exists at
once.
"""

from __future__ import annotations

import numpy as np
import torch

from skelprompt.detector import sources
from skelprompt.detector.config import DetectorConfig

CORESET_SEED = 0  # the projection and the first pick: the same normal set gives the same bank
PROJECTION_DIM = 64  # width of the projection the coreset is chosen on
CLIP_BLOCK = 2048  # clips whose variant rows are made at once


def random_projection(dim: int, out_dim: int = PROJECTION_DIM, seed: int = CORESET_SEED) -> np.ndarray:
    """A [dim, out_dim] Gaussian projection scaled to keep squared distances on average."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((dim, out_dim)) / np.sqrt(out_dim)


def greedy_coreset(points: np.ndarray, size: int, seed: int = CORESET_SEED) -> np.ndarray:
    """Sorted indices of ``size`` rows of ``points`` picked by greedy k-center (farthest point
    first); all rows when there are no more than ``size``. Memory: a few vectors of len(points)."""
    n = len(points)
    if size >= n:
        return np.arange(n)
    p = torch.from_numpy(np.ascontiguousarray(points, np.float32))
    sq = (p * p).sum(1)
    nearest = torch.full((n,), float("inf"))  # squared distance of each row to the picks
    chosen = np.empty(size, np.int64)
    idx = int(np.random.default_rng(seed).integers(n))
    with torch.no_grad():
        for i in range(size):
            chosen[i] = idx
            d = torch.addmv(sq, p, p[idx], alpha=-2.0).add_(sq[idx])
            torch.minimum(nearest, d, out=nearest)
            nearest[idx] = -float("inf")  # never picked twice, even among duplicate rows
            idx = int(torch.argmax(nearest))
    return np.sort(chosen)


def _variant_block(
    config: DetectorConfig, src: str, x: np.ndarray, extra: dict[str, np.ndarray], lo: int, hi: int
) -> np.ndarray:
    """[V, hi - lo, D]: the variant rows of clips ``lo:hi``."""
    return sources.variants(config, src, x[lo:hi], {k: v[lo:hi] for k, v in extra.items()})


def normal_bank(
    config: DetectorConfig, src: str, x: np.ndarray, extra: dict[str, np.ndarray], reduce: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(rows [M, D], groups [M], all rows)`` of one OoD source: the variant rows of the
    normal clips ``x`` (row ``v * N + i`` is variant ``v`` of clip ``i``, its group ``i``),
    or, with ``reduce`` and more rows than ``config.bank_size``, their coreset."""
    n = len(x)
    num_variants = _variant_block(config, src, x, extra, 0, 1).shape[0]
    total = num_variants * n
    if not reduce or config.bank_size == 0 or total <= config.bank_size:
        rows = sources.variants(config, src, x, extra)
        return rows.reshape(total, -1), np.tile(np.arange(n), num_variants), total
    proj = random_projection(x.shape[1])
    projected = np.empty((num_variants, n, proj.shape[1]), np.float32)
    for lo in range(0, n, CLIP_BLOCK):
        projected[:, lo : lo + CLIP_BLOCK] = _variant_block(config, src, x, extra, lo, lo + CLIP_BLOCK) @ proj
    chosen = greedy_coreset(projected.reshape(total, -1), config.bank_size)
    del projected
    variant, clip = np.divmod(chosen, n)
    rows = np.empty((len(chosen), x.shape[1]))
    for lo in range(0, n, CLIP_BLOCK):
        here = (clip >= lo) & (clip < lo + CLIP_BLOCK)
        if here.any():
            block = _variant_block(config, src, x, extra, lo, lo + CLIP_BLOCK)
            rows[here] = block[variant[here], clip[here] - lo]
    return rows, clip, total
