"""Augmentations that make Kinect / mocap projections look like 2D pose-estimator output.

OpenPose, AlphaPose and MoveNet on real video differ from clean projections in known ways:
confidence drops on fast (blurred) and occluded joints, positions jitter by a fraction of the
limb, joints vanish for runs of frames, left and right get swapped, videos come at 5-30 fps
and in short tracks, people are cut by the image border, and spurious people appear. Each
transform below imitates one of these with probability ``p`` (``(clip, rng) -> clip``, inputs
never modified; missing joints stay missing).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from skelprompt.clip import Clip
from skelprompt.layouts import get_layout
from skelprompt.points import torso_length

# canonical joint -> the joint at the other end of its limb (-1: the shoulder centre)
_LIMB_PARENT = (-1, 7, 8, 1, 2, 3, 4, 1, 2, 7, 8, 9, 10)
MIN_CONF = 0.05


def _valid(clip: Clip) -> np.ndarray:
    return clip.keypoint_score > 0


def _take_frames(clip: Clip, idx: np.ndarray, fps: float | None = None) -> Clip:
    return replace(
        clip,
        keypoint=clip.keypoint[:, idx],
        keypoint_score=clip.keypoint_score[:, idx],
        keypoint3d=None if clip.keypoint3d is None else clip.keypoint3d[:, idx],
        fps=clip.fps if fps is None else fps,
        meta=dict(clip.meta),
    )


def _scale(clip: Clip) -> float:
    c = clip.to_canonical()
    return torso_length(c.keypoint, c.keypoint_score > 0)


def _burst(t: int, max_len: int, rng: np.random.Generator) -> slice:
    n = int(rng.integers(1, max(2, min(max_len, t) + 1)))
    s = int(rng.integers(0, max(1, t - n + 1)))
    return slice(s, s + n)


@dataclass
class SpeedOcclusionConfidence:
    """Confidence times ``exp(-k * speed)`` (speed in torso lengths per second: motion blur),
    and times a factor in [0.3, 0.7] for joints behind the body's centre (needs ``keypoint3d``)."""

    p: float = 0.0
    k: tuple[float, float] = (0.05, 0.2)

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p or clip.num_frames < 2:
            return clip
        valid = _valid(clip)
        step = np.zeros(clip.keypoint_score.shape, np.float32)
        d = np.linalg.norm(np.diff(clip.keypoint, axis=1), axis=-1)
        both = valid[:, 1:] & valid[:, :-1]
        step[:, 1:] = np.where(both, d, 0.0)
        step[:, 0] = step[:, 1]
        speed = step * float(clip.fps or 30.0) / max(_scale(clip), 1e-6)
        sc = clip.keypoint_score * np.exp(-rng.uniform(*self.k) * speed)
        if clip.keypoint3d is not None:
            z = clip.keypoint3d[..., 2]
            zc = np.array([np.median(z[m][valid[m]]) if valid[m].any() else 0.0 for m in range(len(z))])
            behind = z - zc[:, None, None] > 0.05
            sc = np.where(behind, sc * rng.uniform(0.3, 0.7), sc)
        sc = np.where(valid, np.clip(sc, MIN_CONF, 1.0), 0.0).astype(np.float32)
        return replace(clip, keypoint_score=sc, meta=dict(clip.meta))


@dataclass
class LimbJitter:
    """Gaussian jitter of each joint with std ``sigma`` times the length of its limb."""

    p: float = 0.0
    sigma: float = 0.08

    def limb_lengths(self, clip: Clip) -> np.ndarray:
        """Median limb length [M, V] of every joint (the median limb for non-canonical joints)."""
        lay = get_layout(clip.layout)
        c = clip.to_canonical()
        frames = np.unique(
            np.linspace(0, c.num_frames - 1, min(c.num_frames, 12)).astype(int)
        )  # enough for a median
        kp = np.where(c.keypoint_score[:, frames, :, None] > 0, c.keypoint[:, frames], np.nan)
        parent = np.array([p if p >= 0 else 0 for p in _LIMB_PARENT])
        ends = kp[:, :, parent]
        ends[:, :, 0] = (kp[:, :, 1] + kp[:, :, 2]) / 2
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN limbs (missing joints)
            lengths = np.nanmedian(np.linalg.norm(kp - ends, axis=-1), axis=1)  # [M, 13]
        fallback = _scale(clip) / 2
        lengths = np.where(np.isfinite(lengths) & (lengths > 0), lengths, fallback)
        out = np.repeat(np.nanmedian(lengths, axis=1, keepdims=True), lay.num_joints, axis=1)
        out[:, list(lay.canonical_index)] = lengths
        return out

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p or self.sigma <= 0:
            return clip
        std = self.sigma * self.limb_lengths(clip)[:, None, :, None]
        xy = clip.keypoint + rng.normal(0.0, 1.0, clip.keypoint.shape) * std
        kp = np.where(_valid(clip)[..., None], xy, 0.0).astype(np.float32)
        return replace(clip, keypoint=kp, meta=dict(clip.meta))


@dataclass
class MissingBursts:
    """One limb (or, one time in four, the whole person) missing for a run of up to ``max_len`` frames."""

    p: float = 0.0
    max_len: int = 12

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        lay = get_layout(clip.layout)
        ci = lay.canonical_index
        limbs = [[ci[1], ci[3], ci[5]], [ci[2], ci[4], ci[6]], [ci[9], ci[11]], [ci[10], ci[12]], [ci[0]]]
        joints = list(range(lay.num_joints)) if rng.random() < 0.25 else limbs[int(rng.integers(len(limbs)))]
        m = int(rng.integers(clip.num_persons))
        sc = clip.keypoint_score.copy()
        t = _burst(clip.num_frames, self.max_len, rng)
        sc[m, t][:, joints] = 0.0
        if not (sc > 0).any():
            return clip
        kp = np.where(sc[..., None] > 0, clip.keypoint, 0.0).astype(np.float32)
        return replace(clip, keypoint=kp, keypoint_score=sc, meta=dict(clip.meta))


@dataclass
class LeftRightSwap:
    """Left and right joints of one person swapped (labels only, not positions) for a run of frames."""

    p: float = 0.0
    max_len: int = 8

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        flip = list(get_layout(clip.layout).flip_index)
        m = int(rng.integers(clip.num_persons))
        t = _burst(clip.num_frames, self.max_len, rng)
        kp, sc = clip.keypoint.copy(), clip.keypoint_score.copy()
        kp[m, t] = clip.keypoint[m, t][:, flip]
        sc[m, t] = clip.keypoint_score[m, t][:, flip]
        return replace(clip, keypoint=kp, keypoint_score=sc, meta=dict(clip.meta))


@dataclass
class FrameRateResample:
    """Resample to a random frame rate in ``[lo, hi]`` fps (only ever fewer frames)."""

    p: float = 0.0
    lo: float = 5.0
    hi: float = 30.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        src = float(clip.fps or 30.0)
        if rng.random() >= self.p or clip.num_frames < 3:
            return clip
        target = float(rng.uniform(self.lo, min(self.hi, src)))
        if target >= src:
            return clip
        idx = np.unique(np.round(np.arange(0.0, clip.num_frames, src / target)).astype(int))
        idx = idx[idx < clip.num_frames]
        out = _take_frames(clip, idx, target)
        return out if len(idx) >= 2 and (out.keypoint_score > 0).any() else clip


@dataclass
class ShortClip:
    """Keep a random run of ``lo``-``hi`` frames (short tracks)."""

    p: float = 0.0
    lo: int = 8
    hi: int = 32

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p or clip.num_frames <= self.lo:
            return clip
        n = int(rng.integers(self.lo, min(self.hi, clip.num_frames) + 1))
        s = int(rng.integers(0, clip.num_frames - n + 1))
        out = _take_frames(clip, np.arange(s, s + n))
        return out if (out.keypoint_score > 0).any() else clip


@dataclass
class BorderCut:
    """An image border through the body: joints beyond a line (left, right, top or, most often,
    bottom, at 40-90 % of the clip's extent) get score 0."""

    p: float = 0.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        valid = _valid(clip)
        if rng.random() >= self.p or not valid.any():
            return clip
        pts = clip.keypoint[valid]
        lo, hi = pts.min(0), pts.max(0)
        side = int(rng.choice(4, p=[0.2, 0.2, 0.1, 0.5]))  # left, right, top, bottom (y down)
        axis, keep = (0 if side < 2 else 1), float(rng.uniform(0.4, 0.9))
        if side in (0, 2):  # cut the low side: keep coordinates above the line
            line = hi[axis] - keep * (hi[axis] - lo[axis])
            inside = clip.keypoint[..., axis] >= line
        else:
            line = lo[axis] + keep * (hi[axis] - lo[axis])
            inside = clip.keypoint[..., axis] <= line
        sc = np.where(valid & inside, clip.keypoint_score, 0.0).astype(np.float32)
        if not (sc > 0).any():
            return clip
        kp = np.where(sc[..., None] > 0, clip.keypoint, 0.0).astype(np.float32)
        out = replace(clip, keypoint=kp, keypoint_score=sc, meta=dict(clip.meta))
        out.meta["border_cut"] = {"axis": axis, "line": float(line), "keep_low": side in (1, 3)}
        return out


@dataclass
class ExtraPerson:
    """A spurious extra person: a still, smaller copy of a clip's person 2-4 body widths away,
    low confidence, a third of its joints missing, present for part of the clip."""

    p: float = 0.0

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        valid = _valid(clip)
        if rng.random() >= self.p or not valid.any():
            return clip
        m = int(rng.integers(clip.num_persons))
        t0 = int(rng.integers(clip.num_frames))
        if not valid[m, t0].any():
            return clip
        pose = clip.keypoint[m, t0]
        ok = valid[m, t0]
        c = pose[ok].mean(0)
        width = float(np.ptp(clip.keypoint[valid][:, 0])) or _scale(clip)
        shift = np.array(
            [rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 4.0) * width, rng.uniform(-0.3, 0.3) * width]
        )
        ghost = (pose - c) * rng.uniform(0.5, 1.0) + c + shift
        t = clip.num_frames
        kp = np.repeat(ghost[None], t, 0) + rng.normal(0, 0.01 * width, (t, *pose.shape))
        sc = np.where(ok & (rng.random(ok.shape) > 0.33), rng.uniform(0.1, 0.5), 0.0)
        sc = np.repeat(sc[None], t, 0)
        sc[: _burst(t, t, rng).start] = 0.0  # appears part-way through
        sc = sc.astype(np.float32)
        kp = np.where(sc[..., None] > 0, kp, 0.0).astype(np.float32)
        return replace(
            clip,
            keypoint=np.concatenate([clip.keypoint, kp[None]]),
            keypoint_score=np.concatenate([clip.keypoint_score, sc[None]]),
            keypoint3d=None,
            track_ids=None,
            meta=dict(clip.meta),
        )


def temporal_transforms(cfg) -> list:
    """Frame-rate and short-clip transforms (early in the pipeline)."""
    return [
        FrameRateResample(cfg.fps_resample_p, *cfg.fps_range),
        ShortClip(cfg.short_clip_p, *cfg.short_clip_frames),
    ]


def detector_transforms(cfg) -> list:
    """Confidence, jitter, swap, missing, border and extra-person transforms (late in the pipeline)."""
    return [
        SpeedOcclusionConfidence(cfg.speed_conf_p),
        LimbJitter(cfg.limb_jitter_p, cfg.limb_jitter),
        LeftRightSwap(cfg.swap_p),
        MissingBursts(cfg.missing_burst_p),
        BorderCut(cfg.border_cut_p),
        ExtraPerson(cfg.extra_person_p),
    ]
