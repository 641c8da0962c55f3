"""The pretraining pool as CoOp sees it: clip embeddings f(x) of a frozen model, class texts.

The pool is the bundled recipe's data sets (``PretrainConfig()``) minus those
excluded (the zero-shot rule: a benchmark's own data set stays out). A class whose clips mostly
show two people gets a two-person text (``"two people {name}"``), so it is learned with the
pair context, as pretraining phrased it with the pair templates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from skelprompt.errors import SkelpromptError
from skelprompt.model.features import extract_features
from skelprompt.model.network import SkeletonTextModel


@dataclass
class PoolEmbeddings:
    embeddings: np.ndarray  # [N, D] f(x), L2-normalised
    labels: np.ndarray  # [N] index into texts
    texts: list[str]  # per class: "name" or "two people name"
    datasets: list[str]  # the data sets read


def pool_embeddings(
    model: SkeletonTextModel,
    data_root: str | Path | None,
    exclude: tuple[str, ...] = (),
    max_clips_per_dataset: int = 0,
    max_clips_per_class: int = 0,
) -> PoolEmbeddings:
    """Embed the pool's clips with ``model``. Caps > 0 keep a random subset of each data set
    or class (CoOp learns from a few shots per class; the caps keep the encoding pass short)."""
    from skelprompt.pretrain.config import PretrainConfig
    from skelprompt.pretrain.data import build_pool

    cfg = replace(
        PretrainConfig(),
        exclude=tuple(exclude),
        max_clips_per_dataset=max_clips_per_dataset,
        max_clips_per_class=max_clips_per_class,
    )
    if not cfg.used_datasets():
        raise SkelpromptError("no data set left in the pool (check --exclude)")
    pool = build_pool(cfg, data_root)
    _, emb = extract_features(model, pool.clips)
    pairs = np.array([c.num_persons >= 2 for c in pool.clips])
    texts = []
    for i, name in enumerate(pool.class_names):
        mine = pairs[pool.labels == i]
        texts.append(f"two people {name}" if len(mine) and mine.mean() > 0.5 else name)
    return PoolEmbeddings(emb, pool.labels, texts, cfg.used_datasets())
