"""Baselines that need no pretraining (ANCHORS.md): motion energy, person distance, raw poses.

All work on the canonical 13 joints with coordinates made isotropic and divided by the clip's
median torso length (shoulder centre to hip centre), as the anchor numbers were made.
Higher score = more anomalous.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector import DetectorConfig
from skelprompt.pose_descriptor import (  # noqa: F401 - re-exported for the benchmark code
    DESCRIPTOR_FRAMES,
    descriptors,
    raw_pose_descriptor,
)
from skelprompt.pose_descriptor import body_scale as _scale
from skelprompt.pose_descriptor import canonical_arrays as _canonical


def metres_view(clip: Clip) -> Clip:
    """For 3D sources: the clip with ``keypoint`` = (x, -y) camera metres (orthographic), as the
    ANCHORS.md numbers for MSR were made; other clips unchanged."""
    if clip.keypoint3d is None:
        return clip
    xy = np.asarray(clip.keypoint3d[..., :2], np.float32).copy()
    xy[..., 1] *= -1
    return replace(clip, keypoint=xy, meta=dict(clip.meta))


def joint_speeds(clip: Clip) -> np.ndarray:
    """Displacements per frame (torso lengths) of every joint seen in two consecutive frames."""
    kp, valid = _canonical(clip)
    both = valid[:, 1:] & valid[:, :-1]
    d = np.linalg.norm(kp[:, 1:] - kp[:, :-1], axis=-1)
    return d[both] / _scale(kp, valid)


def mean_joint_speed(clip: Clip) -> float:
    """Mean displacement per frame (torso lengths) over persons, joints and frame pairs."""
    s = joint_speeds(clip)
    return float(s.mean()) if s.size else 0.0


def max_joint_speed(clip: Clip) -> float:
    s = joint_speeds(clip)
    return float(s.max()) if s.size else 0.0


def neg_min_person_distance(clip: Clip) -> float:
    """Minus the smallest joint-to-joint distance between two persons in any frame (torso lengths).

    (Checked against ANCHORS.md: SBU 0.620 vs 0.618, kick/punch/push 0.370/0.798/0.778; a
    body-centre distance gives 0.42 instead.) One-person clips score 0.
    """
    kp, valid = _canonical(clip)
    m = kp.shape[0]
    if m < 2:
        return 0.0
    best = np.inf
    for a in range(m):
        for b in range(a + 1, m):
            d = np.linalg.norm(kp[a][:, :, None] - kp[b][:, None, :], axis=-1)
            ok = valid[a][:, :, None] & valid[b][:, None, :]
            if ok.any():
                best = min(best, float(d[ok].min()))
    if not np.isfinite(best):
        return 0.0
    return -best / _scale(kp, valid)


class DescriptorOoD:
    """A registered OoD scorer (``knn``: mean distance to the k nearest, ``mahalanobis``:
    Ledoit-Wolf) on raw-pose descriptors: the detector's own scorers, without its sources."""

    def __init__(self, method: str = "knn", k: int = DetectorConfig.k) -> None:
        self.method = method
        self.scorer = DetectorConfig(ood=method, k=k).new_scorer()  # ValueError for unknown methods

    def fit(self, x: np.ndarray) -> DescriptorOoD:
        self.scorer.fit(np.asarray(x, np.float64))
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.scorer.decision_function(np.asarray(x, np.float64))


SIMPLE_BASELINES = {
    "mean joint speed": mean_joint_speed,
    "max joint speed": max_joint_speed,
    "neg. min person distance": neg_min_person_distance,
}


def baseline_scores(fit: list[Clip], test: list[Clip], persons: int, two_person: bool, cache=None) -> dict:
    """Scores of every baseline for one fold: name -> [len(test)] array (higher = anomalous).

    ``cache`` (a dict keyed by ``id(clip)``) holds descriptors reused across folds.
    """
    cache = {} if cache is None else cache

    def desc(clips: list[Clip]) -> np.ndarray:
        out = []
        for c in clips:
            key = ("desc", id(c), persons)
            if key not in cache:
                cache[key] = raw_pose_descriptor(c, persons)
            out.append(cache[key])
        return np.stack(out)

    out = {}
    for name, fn in SIMPLE_BASELINES.items():
        if name.startswith("neg. min") and not two_person:
            continue
        out[name] = np.array([fn(c) for c in test])
    xf, xt = desc(fit), desc(test)
    out["raw-pose mahalanobis"] = DescriptorOoD("mahalanobis").fit(xf).score(xt)
    out["raw-pose k-NN"] = DescriptorOoD("knn").fit(xf).score(xt)
    return out
