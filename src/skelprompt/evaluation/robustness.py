"""Synthetic error injectors (Clip -> Clip, seeded): the failure modes of real pose pipelines.

Applied to test clips only. Every injector returns a new clip and leaves its input untouched;
``keypoint3d`` is dropped from corrupted clips (the corruption is defined in the 2D plane).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from skelprompt.clip import Clip
from skelprompt.points import torso_length


def _torso(clip: Clip) -> float:
    c = clip.to_canonical()
    valid = (c.keypoint_score > 0) & np.isfinite(c.keypoint).all(-1)
    return torso_length(np.asarray(c.keypoint, np.float32), valid)


def _new(clip: Clip, kp: np.ndarray, sc: np.ndarray, **kw) -> Clip:
    return replace(
        clip,
        keypoint=np.where(sc[..., None] > 0, kp, 0.0).astype(np.float32),
        keypoint_score=sc.astype(np.float32),
        keypoint3d=None,
        meta=dict(clip.meta),
        **kw,
    )


def gaussian_noise(clip: Clip, sigma: float, rng: np.random.Generator) -> Clip:
    """Add N(0, (sigma x torso length)^2) to the x and y of every present joint."""
    s = sigma * _torso(clip)
    kp = clip.keypoint + rng.normal(0.0, s, clip.keypoint.shape).astype(np.float32)
    return _new(clip, kp, np.array(clip.keypoint_score, copy=True))


def drop_joints(clip: Clip, rate: float, rng: np.random.Generator) -> Clip:
    """Mark a fraction ``rate`` of the present joints missing (score 0); one joint always stays."""
    sc = np.array(clip.keypoint_score, copy=True)
    present = np.flatnonzero(sc.ravel() > 0)
    n = min(int(round(rate * len(present))), len(present) - 1)
    if n > 0:
        sc.flat[rng.choice(present, n, replace=False)] = 0.0
    return _new(clip, np.array(clip.keypoint, copy=True), sc)


def swap_persons(clip: Clip, fraction: float, rng: np.random.Generator) -> Clip:
    """Swap the indices of persons 0 and 1 in a random contiguous part (``fraction``) of the frames:
    a track-ID switch. One-person clips come back unchanged."""
    if clip.num_persons < 2:
        return _new(clip, np.array(clip.keypoint, copy=True), np.array(clip.keypoint_score, copy=True))
    t = clip.num_frames
    n = max(1, int(round(fraction * t)))
    s = int(rng.integers(0, t - n + 1))
    kp, sc = np.array(clip.keypoint, copy=True), np.array(clip.keypoint_score, copy=True)
    kp[[0, 1], s : s + n] = kp[[1, 0], s : s + n]
    sc[[0, 1], s : s + n] = sc[[1, 0], s : s + n]
    out = _new(clip, kp, sc)
    out.meta["swapped_frames"] = [s, s + n]
    return out


def extra_person(clip: Clip, donor: Clip, rng: np.random.Generator, offset: float = 3.0) -> Clip:
    """Add one spurious person: the most complete person of ``donor`` (same layout), time-resampled
    to this clip's length, rescaled to this clip's torso length and placed ``offset`` torso
    lengths to the left or right of this clip's centre."""
    if donor.layout != clip.layout:
        raise ValueError(f"donor layout {donor.layout} differs from {clip.layout}")
    p = int(np.argmax((donor.keypoint_score > 0).sum((1, 2))))
    idx = np.linspace(0, donor.num_frames - 1, clip.num_frames).round().astype(int)
    dkp = np.array(donor.keypoint[p, idx], np.float64)
    dsc = np.array(donor.keypoint_score[p, idx], np.float32)
    dvalid = dsc > 0
    own = clip.keypoint_score > 0
    centre = clip.keypoint[own].mean(0) if own.any() else np.zeros(2)
    scale = _torso(clip) / max(_torso(donor), 1e-9)
    dcen = dkp[dvalid].mean(0) if dvalid.any() else np.zeros(2)
    side = 1.0 if rng.random() < 0.5 else -1.0
    shift = centre + np.array([side * offset * _torso(clip), 0.0])
    dkp = (dkp - dcen) * scale + shift
    kp = np.concatenate([clip.keypoint, dkp[None].astype(np.float32)])
    sc = np.concatenate([clip.keypoint_score, dsc[None]])
    out = _new(clip, kp, sc, track_ids=None)
    return out


def conditions(two_person: bool) -> list[tuple[str, str, float]]:
    """(condition name, injector, level) of the robustness study."""
    out = [("clean", "clean", 0.0)]
    out += [(f"noise {s:g}", "noise", s) for s in (0.05, 0.1, 0.2)]
    out += [(f"drop {int(r * 100)}%", "drop", r) for r in (0.1, 0.2, 0.3, 0.4)]
    if two_person:
        out.append(("swap 40%", "swap", 0.4))
    out.append(("extra person", "extra", 1.0))
    return out


def corrupt(clips: list[Clip], kind: str, level: float, seed: int = 0) -> list[Clip]:
    """Apply one condition to every clip (seeded); 'extra' takes donors from the other clips."""
    rng = np.random.default_rng(seed)
    if kind == "clean":
        return list(clips)
    if kind == "noise":
        return [gaussian_noise(c, level, rng) for c in clips]
    if kind == "drop":
        return [drop_joints(c, level, rng) for c in clips]
    if kind == "swap":
        return [swap_persons(c, level, rng) for c in clips]
    if kind == "extra":
        out = []
        for i, c in enumerate(clips):
            j = (i + 1 + int(rng.integers(0, max(len(clips) - 1, 1)))) % len(clips)
            out.append(extra_person(c, clips[j] if j != i or len(clips) == 1 else clips[i - 1], rng))
        return out
    raise ValueError(f"unknown injector {kind!r}")


def achieved(clean: list[Clip], corrupted: list[Clip], kind: str) -> float:
    """The error rate actually injected by ``corrupt`` (dropped fraction of the present joints,
    swapped fraction of the frames, extra persons per clip, noise in torso lengths); 0 if clean."""
    if kind == "drop":
        a = sum(int((c.keypoint_score > 0).sum()) for c in clean)
        b = sum(int((c.keypoint_score > 0).sum()) for c in corrupted)
        return 1.0 - b / max(a, 1)
    if kind == "swap":
        fr = [np.diff(c.meta.get("swapped_frames", [0, 0]))[0] / c.num_frames for c in corrupted]
        return float(np.mean(fr))
    if kind == "extra":
        return float(np.mean([t.num_persons - c.num_persons for c, t in zip(clean, corrupted, strict=True)]))
    if kind == "noise":
        vals = []
        for c, t in zip(clean[:20], corrupted[:20], strict=True):  # 20 clips measure it well enough
            ok = (c.keypoint_score > 0) & (t.keypoint_score > 0)
            vals.append(float((t.keypoint - c.keypoint)[ok].std() / _torso(c)))
        return float(np.mean(vals))
    return 0.0
