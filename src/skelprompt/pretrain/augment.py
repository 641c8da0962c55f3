"""Training augmentations in the PySKL pipeline style: small callables ``(clip, rng) -> clip``.

Every transform returns a new :class:`Clip` (inputs are never modified: the data set cache
shares its arrays). Missing joints (score 0) stay missing. Note that under the default
``body`` point normalisation (centre + torso length), a global isotropic scale or shift of a
clip is undone by the encoder's input normalisation; they are kept (PySKL recipe) because
they matter for the ``image`` and ``bbox`` normalisations, while the anisotropic part of
:class:`RandomScale`, the rotation, and :class:`PersonShift` do change what the encoder sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from skelprompt.clip import Clip
from skelprompt.layouts import get_layout
from skelprompt.points import torso_length
from skelprompt.project3d import project_pinhole, rotation_matrix

Transform = Callable[[Clip, np.random.Generator], Clip]


def _valid(clip: Clip) -> np.ndarray:
    return clip.keypoint_score > 0


def _centre(kp: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return kp[valid].mean(0) if valid.any() else np.zeros(kp.shape[-1], kp.dtype)


def _with_xy(clip: Clip, xy: np.ndarray, **changes) -> Clip:
    valid = _valid(clip)
    kp = np.where(valid[..., None], xy, 0.0).astype(np.float32)
    return replace(clip, keypoint=kp, meta=dict(clip.meta), **changes)


@dataclass
class Compose:
    transforms: Sequence[Transform]

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        for t in self.transforms:
            clip = t(clip, rng)
        return clip


@dataclass
class RandomView:
    """A random virtual camera for 3D sources: rotate ``keypoint3d`` about its centre by a
    uniform yaw/pitch and re-project with the pinhole model. Clips without 3D pass through."""

    p: float = 0.8
    max_yaw: float = 45.0
    max_pitch: float = 10.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if clip.keypoint3d is None or rng.random() >= self.p:
            return clip
        valid = _valid(clip)
        xyz = np.asarray(clip.keypoint3d, np.float64)
        if not valid.any():
            return clip
        c = xyz[valid].mean(0)
        rot = rotation_matrix(
            rng.uniform(-self.max_yaw, self.max_yaw), rng.uniform(-self.max_pitch, self.max_pitch)
        )
        new = (xyz - c) @ rot.T + c
        uv = project_pinhole(new)
        ok = valid & np.isfinite(uv).all(-1)
        sc = np.where(ok, clip.keypoint_score, 0.0).astype(np.float32)
        if not ok.any():
            return clip
        kp = np.where(ok[..., None], np.nan_to_num(uv), 0.0).astype(np.float32)
        kp3 = np.where(ok[..., None], new, 0.0).astype(np.float32)
        return replace(clip, keypoint=kp, keypoint_score=sc, keypoint3d=kp3, meta=dict(clip.meta))


@dataclass
class RandomScale:
    """Scale x and y about the clip centre by independent factors in ``[lo, hi]``."""

    lo: float = 0.8
    hi: float = 1.2

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        valid = _valid(clip)
        c = _centre(clip.keypoint, valid)
        s = rng.uniform(self.lo, self.hi, size=2).astype(np.float32)
        return _with_xy(clip, (clip.keypoint - c) * s + c)


@dataclass
class RandomShift:
    """Shift the clip by up to ``fraction`` of its extent in x and y."""

    fraction: float = 0.2

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        valid = _valid(clip)
        if not valid.any():
            return clip
        pts = clip.keypoint[valid]
        extent = np.maximum(pts.max(0) - pts.min(0), 1e-6)
        d = rng.uniform(-self.fraction, self.fraction, size=2) * extent
        return _with_xy(clip, clip.keypoint + d.astype(np.float32))


@dataclass
class RandomRotate:
    """Rotate in the image plane about the clip centre by up to ``max_deg`` degrees."""

    max_deg: float = 5.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        valid = _valid(clip)
        c = _centre(clip.keypoint, valid)
        a = np.deg2rad(rng.uniform(-self.max_deg, self.max_deg))
        r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
        return _with_xy(clip, (clip.keypoint - c) @ r.T + c)


@dataclass
class RandomFlip:
    """Mirror x about the clip centre with probability ``p`` and swap left/right joints
    (``Layout.flip_index``); ``keypoint3d`` is mirrored the same way."""

    p: float = 0.5

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        idx = list(get_layout(clip.layout).flip_index)
        valid = _valid(clip)
        c = _centre(clip.keypoint, valid)
        kp = clip.keypoint.copy()
        kp[..., 0] = 2 * c[0] - kp[..., 0]
        kp = np.where(valid[..., None], kp, 0.0).astype(np.float32)[:, :, idx]
        kp3 = None
        if clip.keypoint3d is not None:
            c3 = _centre(clip.keypoint3d, valid)
            kp3 = clip.keypoint3d.copy()
            kp3[..., 0] = 2 * c3[0] - kp3[..., 0]
            kp3 = np.where(valid[..., None], kp3, 0.0).astype(np.float32)[:, :, idx]
        return replace(
            clip,
            keypoint=kp,
            keypoint_score=clip.keypoint_score[:, :, idx].copy(),
            keypoint3d=kp3,
            meta=dict(clip.meta),
        )


@dataclass
class RandomTemporalCrop:
    """Keep a random window of at least ``min_fraction`` of the frames (and 2 frames)."""

    min_fraction: float = 0.6

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        t = clip.num_frames
        lo = max(2, int(np.ceil(self.min_fraction * t)))
        if t <= lo:
            return clip
        length = int(rng.integers(lo, t + 1))
        start = int(rng.integers(0, t - length + 1))
        out = clip.frames(start, start + length)
        return out if (out.keypoint_score > 0).any() else clip


@dataclass
class RandomJointDrop:
    """Mark each present joint missing with probability ``p`` (never all of them)."""

    p: float = 0.05

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if self.p <= 0:
            return clip
        drop = (rng.random(clip.keypoint_score.shape) < self.p) & _valid(clip)
        sc = np.where(drop, 0.0, clip.keypoint_score).astype(np.float32)
        if not (sc > 0).any():
            return clip
        kp = np.where(drop[..., None], 0.0, clip.keypoint).astype(np.float32)
        return replace(clip, keypoint=kp, keypoint_score=sc, meta=dict(clip.meta))


@dataclass
class ConfidenceNoise:
    """Add Gaussian noise (std ``sigma``) to the confidences of present joints, kept in [0.05, 1]."""

    sigma: float = 0.1

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if self.sigma <= 0:
            return clip
        valid = _valid(clip)
        noisy = np.clip(clip.keypoint_score + rng.normal(0, self.sigma, clip.keypoint_score.shape), 0.05, 1.0)
        sc = np.where(valid, noisy, 0.0).astype(np.float32)
        return replace(clip, keypoint_score=sc, meta=dict(clip.meta))


@dataclass
class CoordNoise:
    """Gaussian jitter of every joint, std ``sigma`` torso lengths (pose-detector noise)."""

    sigma: float = 0.01

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if self.sigma <= 0:
            return clip
        c = clip.to_canonical()
        scale = torso_length(c.keypoint, c.keypoint_score > 0)
        noise = rng.normal(0, self.sigma * scale, clip.keypoint.shape).astype(np.float32)
        return _with_xy(clip, clip.keypoint + noise)


@dataclass
class PersonShift:
    """Multi-person clips: move each person by a random offset of up to ``fraction`` torso
    lengths, so the distance between interacting persons varies."""

    fraction: float = 0.1

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if clip.num_persons < 2 or self.fraction <= 0:
            return clip
        c = clip.to_canonical()
        scale = torso_length(c.keypoint, c.keypoint_score > 0)
        d = rng.uniform(-self.fraction, self.fraction, size=(clip.num_persons, 1, 1, 2)) * scale
        return _with_xy(clip, clip.keypoint + d.astype(np.float32))


def build_augment(cfg) -> Compose:
    """The training pipeline from an :class:`~skelprompt.pretrain.config.AugmentConfig`."""
    from skelprompt.pretrain.augment_pose2d import detector_transforms, temporal_transforms

    return Compose(
        [
            RandomView(cfg.view_p, cfg.max_yaw, cfg.max_pitch),
            *temporal_transforms(cfg),
            RandomTemporalCrop(cfg.crop_min),
            RandomFlip(cfg.flip_p),
            RandomRotate(cfg.rotate_deg),
            RandomScale(*cfg.scale),
            RandomShift(cfg.shift),
            PersonShift(cfg.person_shift),
            CoordNoise(cfg.coord_noise),
            *detector_transforms(cfg),
            RandomJointDrop(cfg.joint_drop_p),
            ConfidenceNoise(cfg.conf_noise),
        ]
    )
