"""Fitting a detector with a few anomaly examples beside its normal clips (``exemplars.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector import sources
from skelprompt.detector.exemplars import DEFAULT_EXEMPLAR_WEIGHT, AnomalyExemplars
from skelprompt.errors import ModelError

if TYPE_CHECKING:
    from skelprompt.detector.detector import Detector


def attach_exemplars(
    det: Detector,
    normal_feats: np.ndarray,
    normal_extra: dict[str, np.ndarray],
    example_feats: np.ndarray,
    example_extra: dict[str, np.ndarray],
    weight: float = DEFAULT_EXEMPLAR_WEIGHT,
    only: tuple[str, ...] | None = None,
) -> Detector:
    """Give a detector fitted on ``normal_feats`` (``Detector.features(..., for_fit=True)``)
    the anomaly examples' features; returns ``det``."""
    if not det.is_fitted:
        raise ModelError("fit the detector on normal clips before adding anomaly examples")
    normal_arrays = sources.source_arrays(det.config, normal_feats, normal_extra)
    det.exemplars = AnomalyExemplars.fit(
        det.config, example_feats, example_extra, normal_arrays, det.normal_dists, weight, only
    )
    return det


def fit_with_examples(
    det: Detector,
    normal: list[Clip],
    examples: list[Clip],
    weight: float = DEFAULT_EXEMPLAR_WEIGHT,
    progress: bool = False,
) -> Detector:
    """Fit on ``normal`` clips and keep ``examples`` (clips showing the anomaly) as exemplars."""
    if len(normal) < 3:
        raise ModelError(f"fitting needs at least 3 normal clips, got {len(normal)}")
    if not examples:
        raise ModelError("no anomaly examples given")
    feats, embs, extra = det.features(normal, progress=progress, for_fit=True)
    det.fit_features(feats, embs, extra)
    det.info["num_normal_clips"] = len(normal)
    ex_feats, _, ex_extra = det.features(examples, for_fit=True)
    attach_exemplars(det, feats, extra, ex_feats, ex_extra, weight)
    det.info["num_anomaly_examples"] = len(examples)
    return det
