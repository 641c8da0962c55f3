"""A normalised raw-pose descriptor of a clip: no learning, a strong OoD feature on its own.

The clip (canonical joints, all persons) is resampled to a fixed number of frames by linear
interpolation, centred on the mean of all valid joints, divided by the median torso length
and flattened. Persons are taken most complete first and padded with zeros; missing joints
are interpolated over time, joints never seen sit at the centre. ANCHORS.md measured k-NN on
this descriptor at 0.88 ROC-AUC on sbu-violence, so the detector can use it as (part of) its
OoD feature (``DetectorConfig.ood_features``).
"""

from __future__ import annotations

import numpy as np

from skelprompt.clip import Clip
from skelprompt.layouts import CANONICAL, LAYOUTS
from skelprompt.points import torso_length

DESCRIPTOR_FRAMES = 32


def canonical_arrays(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints [M, T, 13, 2] float64 with missing joints zeroed, valid [M, T, 13])."""
    c = clip if clip.layout == CANONICAL else clip.to_canonical()
    kp = np.asarray(c.keypoint, np.float64)
    valid = (np.asarray(c.keypoint_score) > 0) & np.isfinite(kp).all(-1)
    return np.where(valid[..., None], kp, 0.0), valid


def body_scale(kp: np.ndarray, valid: np.ndarray) -> float:
    s = torso_length(kp.astype(np.float32), valid)
    return s if s > 1e-9 else 1.0


def _fill_time(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of one joint track [T, 2] where ``ok`` is False."""
    if ok.all() or not ok.any():
        return x
    t = np.arange(len(x))
    return np.stack([np.interp(t, t[ok], x[ok, d]) for d in range(x.shape[1])], -1)


def order_persons_by_x(kp: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder the persons of every frame from left to right (mean x of their visible joints;
    absent persons last). The descriptor then no longer depends on person indices, so track-id
    switches cannot change it (SBU with 40% of frames swapped: 0.572 -> 0.905, as clean)."""
    cnt = valid.sum(-1)  # [M, T]
    cx = np.where(cnt > 0, (kp[..., 0] * valid).sum(-1) / np.maximum(cnt, 1), np.inf)
    perm = np.argsort(cx, axis=0, kind="stable")  # [M, T]
    t = np.arange(kp.shape[1])[None, :]
    return kp[perm, t], valid[perm, t]


def raw_pose_descriptor(
    clip: Clip, persons: int, frames: int = DESCRIPTOR_FRAMES, order_by_x: bool = False
) -> np.ndarray:
    """The descriptor of one clip: ``persons * frames * 13 * 2`` floats.

    ``order_by_x`` sorts the persons of each frame from left to right (the detector does; the
    ANCHORS baselines keep the given person order)."""
    kp, valid = canonical_arrays(clip)
    counts = valid.sum((1, 2))
    order = np.argsort(-counts, kind="stable")[:persons]
    kp, valid = kp[order], valid[order]
    if order_by_x and len(order) > 1:
        kp, valid = order_persons_by_x(kp, valid)
    centre = kp[valid].mean(0) if valid.any() else np.zeros(2)
    x = (kp - centre) / body_scale(kp, valid)
    m, t, v = valid.shape
    for p in range(m):
        for j in range(v):
            x[p, :, j] = _fill_time(x[p, :, j], valid[p, :, j])
            if not valid[p, :, j].any():
                x[p, :, j] = 0.0
    src = np.linspace(0, t - 1, frames) if t > 1 else np.zeros(frames)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    a = (src - lo)[None, :, None, None]
    res = (1 - a) * x[:, lo] + a * x[:, hi]
    out = np.zeros((persons, frames, v, 2))
    out[:m] = res
    return out.reshape(-1)


def descriptors(
    clips: list[Clip], persons: int, frames: int = DESCRIPTOR_FRAMES, order_by_x: bool = False
) -> np.ndarray:
    """Descriptors of several clips, [B, persons * frames * 26]."""
    return np.stack([raw_pose_descriptor(c, persons, frames, order_by_x) for c in clips])


CANONICAL_FLIP = list(LAYOUTS[CANONICAL].flip_index)


def descriptor_variants(desc: np.ndarray, persons: int, frames: int = DESCRIPTOR_FRAMES) -> np.ndarray:
    """[V, N, D]: the descriptors [N, D] as given, left/right mirrored, and for two or more
    persons also person-swapped and swapped-mirrored (V = 4, else 2). Normal footage shows an
    interaction with either actor on either side, so these are normal too."""
    x = np.asarray(desc).reshape(len(desc), persons, frames, len(CANONICAL_FLIP), 2)
    m = x[:, :, :, CANONICAL_FLIP].copy()
    m[..., 0] *= -1  # descriptors are centred, so the mirror is about the clip centre
    out = [x, m]
    if persons >= 2:
        order = [1, 0, *range(2, persons)]
        out += [x[:, order], m[:, order]]
    return np.stack([v.reshape(len(desc), -1) for v in out])
