"""The feature sources the OoD distance is measured on.

``model``: F(x) of the skeleton-text model; ``random``: F(x) of a fixed randomly initialised
encoder; ``pose``: the raw-pose descriptor. With ``symmetric``, the normal set also holds the
mirrored (and, for the pose descriptor, person-swapped) variants of every normal clip.
"""

from __future__ import annotations

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector.config import DetectorConfig
from skelprompt.errors import ModelError
from skelprompt.model.config import ModelConfig
from skelprompt.model.features import extract_features
from skelprompt.model.network import SkeletonTextModel
from skelprompt.model.seeded import seeded
from skelprompt.place_descriptor import PLACE_DIM, place_descriptors
from skelprompt.pose_descriptor import CANONICAL_FLIP, DESCRIPTOR_FRAMES, descriptor_variants, descriptors

RANDOM_ENCODER_SEED = 0
RANDOM_ENCODER_FREQS = (1.0,)
RANDOM_ENCODER_SPAN = 8.0

Features = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]
# extra arrays of the persons of clips with several people: each person's embedding f(x)
# alone, and the clip it belongs to (for DetectorConfig.prompt_persons "each")
PERSON_EMBEDDINGS, PERSON_CLIP = "person_embeddings", "person_clip"
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
    return seeded(lambda: SkeletonTextModel(cfg), RANDOM_ENCODER_SEED).eval()


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
    if config.prompt_persons == "each" or for_fit:  # fitted ones serve either option later
        extra[PERSON_EMBEDDINGS], extra[PERSON_CLIP] = person_embeddings(model, clips)
    if "place" in config.sources:
        extra["place"] = place_descriptors(clips)
    if for_fit and config.symmetric:
        mirrored = [c.mirrored() for c in clips]
        if "model" in config.sources:
            extra["model_mirror"] = extract_features(model, mirrored)[0]
        if random_enc is not None:
            extra["random_mirror"] = extract_features(random_enc, mirrored)[0]
    return feats, embs, extra


def take_features(features: Features, idx: np.ndarray) -> Features:
    """The features of clips ``idx`` (in that order); the persons' rows follow their clips."""
    feats, embs, extra = features
    idx = np.asarray(idx, np.int64)
    out = {k: v[idx] for k, v in extra.items() if k not in (PERSON_EMBEDDINGS, PERSON_CLIP)}
    if PERSON_CLIP in extra:
        owner = np.asarray(extra[PERSON_CLIP], np.int64)
        new_of = np.full(len(embs), -1, np.int64)
        new_of[idx] = np.arange(len(idx))
        keep = np.flatnonzero(new_of[owner] >= 0)
        out[PERSON_EMBEDDINGS] = extra[PERSON_EMBEDDINGS][keep]
        out[PERSON_CLIP] = new_of[owner[keep]]
    return feats[idx], embs[idx], out


def person_embeddings(model: SkeletonTextModel, clips: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """``(f(x) of each visible person of every clip of several people [P, D], clip index [P])``."""
    persons, owner = [], []
    for i, c in enumerate(clips):
        if c.num_persons < 2:
            continue
        seen = np.flatnonzero((c.keypoint_score > 0).any(axis=(1, 2)))
        persons += [c.persons([int(m)]) for m in seen]
        owner += [i] * len(seen)
    embs = extract_features(model, persons)[1] if persons else np.zeros((0, model.cfg.text_dim), np.float32)
    return embs, np.asarray(owner, np.int64)


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
