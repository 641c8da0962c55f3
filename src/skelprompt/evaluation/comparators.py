"""What the method is compared with on a fold: the baselines that need no pretraining
(``evaluation.baselines``) and the learned peer (``evaluation.peer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.evaluation import baselines as B
from skelprompt.evaluation.peer import peer_scores
from skelprompt.evaluation.protocols import Fold
from skelprompt.evaluation.variants import ScoreRow

RAW_POSE_METHODS = ("mahalanobis", "knn")


def cached_descriptors(cache: dict[Any, Any], clips: list[Clip], persons: int) -> np.ndarray:
    """The raw-pose descriptors that :func:`baselines.baseline_scores` stored in ``cache``."""
    return np.stack([cache[("desc", id(c), persons)] for c in clips])


def baseline_rows(scores: dict[str, np.ndarray], fold: Fold, persons: int) -> list[ScoreRow]:
    """The baselines' rows: ``scores`` from :func:`baselines.baseline_scores`, then, for 3D
    sources, raw-pose OoD on (x, -y) camera metres as the anchor numbers were made."""
    rows = [(f"baseline: {k}", v) for k, v in scores.items()]
    if fold.test[0].keypoint3d is not None:
        xf = B.descriptors([B.metres_view(c) for c in fold.fit], persons)
        xt = B.descriptors([B.metres_view(c) for c in fold.test], persons)
        for method in RAW_POSE_METHODS:
            rows.append(
                (f"baseline: raw-pose {method} [x,-y metres]", B.DescriptorOoD(method).fit(xf).score(xt))
            )
    return rows


def peer_row(fold: Fold, cache: dict[Any, Any], persons: int, seed: int) -> ScoreRow:
    """The GRU autoencoder trained on the fold's normal clips (descriptors from ``cache``)."""
    xf, xt = cached_descriptors(cache, fold.fit, persons), cached_descriptors(cache, fold.test, persons)
    return ("peer: GRU autoencoder", peer_scores(xf, xt, B.DESCRIPTOR_FRAMES, seed=seed))
