"""The feature sources the OoD distance is measured on.

``model``: F(x) of the skeleton-text model; ``random``: F(x) of a fixed randomly initialised
encoder; ``pose``: the raw-pose descriptor. With ``symmetric``, the normal set also holds the
mirrored (and, for the pose descriptor, person-swapped) variants of every normal clip.
"""

from __future__ import annotations

import numpy as np
import torch

from skelprompt.clip import Clip
from skelprompt.detector.config import DetectorConfig
from skelprompt.errors import ModelError
from skelprompt.model.config import ModelConfig
from skelprompt.model.features import extract_features
from skelprompt.model.network import SkeletonTextModel
from skelprompt.place_descriptor import PLACE_DIM, place_descriptors
from skelprompt.pose_descriptor import CANONICAL_FLIP, DESCRIPTOR_FRAMES, descriptor_variants, descriptors

RANDOM_ENCODER_SEED = 0
RANDOM_ENCODER_FREQS = (1.0,)
RANDOM_ENCODER_SPAN = 8.0

Features = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]
DESCRIPTOR_SOURCES = ("pose", "place")  # hand-made descriptors: never L2-normalised


def random_encoder(model_cfg: ModelConfig) -> SkeletonTextModel:
    """The fixed randomly initialised encoder of the "random" OoD source.

    Its input features differ from the trained model's: one sin/cos frequency and a wider
    spatial span, which measured best for an untrained encoder (SBU OoD 0.86 against 0.72
    with the trained model's four frequencies; README, design choices). Its weights are
    stored in every detector that uses it, so scores never depend on the random generator.
    """
    cfg = ModelConfig.from_dict(
        {
            **model_cfg.to_dict(),
            "fourier_freqs": RANDOM_ENCODER_FREQS,
            "points": {**model_cfg.points.to_dict(), "span": RANDOM_ENCODER_SPAN},
            "num_classes": 0,
        }
    )
    torch.manual_seed(RANDOM_ENCODER_SEED)
    return SkeletonTextModel(cfg).eval()


def source_features(
    model: SkeletonTextModel,
    random_enc: SkeletonTextModel | None,
    config: DetectorConfig,
    clips: list[Clip],
    progress: bool = False,
    for_fit: bool = False,
) -> Features:
    """``(F(x), f(x), other OoD sources)``; with ``for_fit`` and ``config.symmetric`` the
    encoder features of the mirrored clips come too (as ``"<source>_mirror"``)."""
    feats, embs = extract_features(model, clips, progress=progress)
    extra: dict[str, np.ndarray] = {}
    if random_enc is not None:
        extra["random"] = extract_features(random_enc, clips)[0]
    if "pose" in config.sources:
        extra["pose"] = descriptors(clips, config.pose_persons, order_by_x=config.pose_order_by_x)
    if "place" in config.sources:
        extra["place"] = place_descriptors(clips)
    if for_fit and config.symmetric:
        mirrored = [c.mirrored() for c in clips]
        if "model" in config.sources:
            extra["model_mirror"] = extract_features(model, mirrored)[0]
        if random_enc is not None:
            extra["random_mirror"] = extract_features(random_enc, mirrored)[0]
    return feats, embs, extra


def prep(config: DetectorConfig, source: str, feats: np.ndarray) -> np.ndarray:
    """float64, and L2-normalised encoder features when ``normalize_features``."""
    feats = np.asarray(feats, np.float64)
    if source not in DESCRIPTOR_SOURCES and config.normalize_features:
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return feats


def source_arrays(
    config: DetectorConfig, feats: np.ndarray, extra: dict[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """The prepared features of every configured source (``feats`` is the model's)."""
    extra = extra or {}
    out = {}
    for src in config.sources:
        arr = feats if src == "model" else extra.get(src)
        if arr is None:
            raise ModelError(f"OoD source {src!r} needs its features: compute them with Detector.features()")
        out[src] = prep(config, src, arr)
    return out


def variants(config: DetectorConfig, src: str, x: np.ndarray, extra: dict[str, np.ndarray]) -> np.ndarray:
    """[V, N, D]: the normal features and, when symmetric, those of the mirrored clips."""
    if not config.symmetric or src == "place":  # where and which way a person goes is the point
        return x[None]
    if src == "pose":
        return descriptor_variants(x, config.pose_persons)
    mirror = extra.get(f"{src}_mirror")
    if mirror is None:
        raise ModelError(
            "symmetric fitting needs the mirrored clips' features: use Detector.features(..., for_fit=True)"
        )
    return np.stack([x, prep(config, src, mirror)])


def feature_dim(config: DetectorConfig, model_cfg: ModelConfig, src: str) -> int:
    """The width of a source's feature rows."""
    if src == "pose":
        return config.pose_persons * DESCRIPTOR_FRAMES * len(CANONICAL_FLIP) * 2
    if src == "place":
        return PLACE_DIM
    return model_cfg.feature_dim
