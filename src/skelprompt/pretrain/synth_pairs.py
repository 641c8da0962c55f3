"""Synthetic two-person clips from single-person 3D clips of the pool.

Strikes (PRECOG punches/kicks/back fists/elbow strikes, MSR punches and kicks, DeepMimic punch
and kicks) are placed facing a partner at striking distance (hip centres ``distance`` metres
apart); the partner is a neutral clip (PRECOG's neutral stance), else the striker's own first
frame held still. Normal pairs: two neutral people side by side or talking face to face, two
walkers side by side. All in camera metres (x right, y up, z depth), projected by the pinhole
model, canonical 13-joint layout, then turned by a random scene yaw; ``keypoint3d`` is kept so
the random virtual camera still applies. Strikes take the classes "punching" / "kicking" (with
the texts of SBU's classes); normal pairs their own classes (``class_texts.json``).
"""

from __future__ import annotations

import warnings

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import clip_from_3d
from skelprompt.layouts import CANONICAL

_LSH, _RSH, _LHIP, _RHIP, _LANK, _RANK = 1, 2, 7, 8, 11, 12
STRIKES = {
    "punching": {"right punch", "left punch", "back fist", "elbow strike", "forward punch", "side boxing", "punch"},
    "kicking": {"front right kick", "front left kick", "side right kick", "side left kick", "forward kick",
                "side kick", "kick", "spinning kick"},
}  # fmt: skip
STRIKE_KEYS = {"punching": "sbu/punching", "kicking": "sbu/kicking"}
NEUTRAL = {"neutral stance"}
WALKS = {"walk", "walk around"}
NORMAL_KINDS = ("standing side by side", "talking to each other", "walking side by side")
SCENE_DEPTH = 3.5  # metres in front of the camera
FLOOR_Y = -1.0  # the camera 1 m above the floor


def person3d(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Person 0 in canonical joints: ``xyz [T, 13, 3]`` (NaN where missing), ``score [T, 13]``."""
    c = clip.to_canonical()
    assert c.keypoint3d is not None
    sc = c.keypoint_score[0].astype(np.float32)
    xyz = np.where(sc[..., None] > 0, c.keypoint3d[0], np.nan).astype(np.float64)
    return xyz, sc


def heading(xyz: np.ndarray) -> float:
    """Facing direction (radians, in the x-z plane from +x) from the first frames' shoulders."""
    with warnings.catch_warnings():  # no shoulder seen: NaN, handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        r = np.nanmean(xyz[: max(1, min(5, len(xyz))), _RSH] - xyz[: max(1, min(5, len(xyz))), _LSH], axis=0)
    if not np.isfinite(r).all():
        return -np.pi / 2  # facing the camera
    return float(np.arctan2(r[0], -r[2]))  # forward = up x right = (-r_z, 0, r_x): atan2(r_x, -r_z)


def _hip_centre(xyz: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # frames with both hips missing give NaN, handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        h = np.nanmean(xyz[:, [_LHIP, _RHIP]], axis=1)
    ok = np.isfinite(h).all(-1)
    return h[np.argmax(ok)] if ok.any() else np.nanmean(xyz.reshape(-1, 3), 0)


def place(xyz: np.ndarray, face: float, at: tuple[float, float]) -> np.ndarray:
    """Turn a person about its frame-0 hip centre to face ``face`` (radians), put that centre
    at ``(x, z) = at`` and the feet on the floor."""
    c = _hip_centre(xyz)
    d = face - heading(xyz)
    cs, sn = np.cos(d), np.sin(d)
    p = xyz - c
    x, z = p[..., 0] * cs - p[..., 2] * sn, p[..., 0] * sn + p[..., 2] * cs
    out = np.stack([x + at[0], p[..., 1], z + at[1]], -1)
    feet = out[0, [_LANK, _RANK], 1]
    lift = FLOOR_Y - np.nanmin(feet) if np.isfinite(feet).any() else 0.0
    out[..., 1] += lift
    return out


def _fit(xyz: np.ndarray, sc: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Loop back and forth through a clip to ``t`` frames."""
    n = len(xyz)
    idx = np.arange(t) % max(1, 2 * n - 2) if n > 1 else np.zeros(t, int)
    idx = np.where(idx >= n, 2 * n - 2 - idx, idx)
    return xyz[idx], sc[idx]


def _still(xyz: np.ndarray, sc: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(xyz[:1], t, 0), np.repeat(sc[:1], t, 0)


def _scene(persons: list[tuple[np.ndarray, np.ndarray]], yaw: float, fps: float | None, label: str,
           meta: dict) -> Clip:  # fmt: skip
    """Stack persons, turn the scene about its centre by ``yaw`` and project."""
    t = min(len(p[0]) for p in persons)
    xyz = np.stack([p[0][:t] for p in persons])
    sc = np.stack([p[1][:t] for p in persons])
    cs, sn = np.cos(yaw), np.sin(yaw)
    x, z = xyz[..., 0], xyz[..., 2] - SCENE_DEPTH
    xyz = np.stack([x * cs - z * sn, xyz[..., 1], x * sn + z * cs + SCENE_DEPTH], -1)
    return clip_from_3d(xyz, CANONICAL, score=sc, fps=fps, label=label, meta={"dataset": "synth", **meta})


def strike_pair(striker: Clip, partner: Clip | None, distance: float, rng: np.random.Generator,
                label: str = "punching") -> Clip:  # fmt: skip
    """``striker`` facing ``partner`` (or its own first frame, held), hip centres ``distance`` apart."""
    s_xyz, s_sc = person3d(striker)
    t = len(s_xyz)
    p_xyz, p_sc = _fit(*person3d(partner), t) if partner is not None else _still(s_xyz, s_sc, t)
    side = 1.0 if rng.random() < 0.5 else -1.0  # striker on the left or on the right
    a = place(s_xyz, 0.0 if side < 0 else np.pi, (side * distance / 2, SCENE_DEPTH))
    b = place(p_xyz, np.pi if side < 0 else 0.0, (-side * distance / 2, SCENE_DEPTH))
    meta = {"mapping_key": STRIKE_KEYS.get(label, label), "kind": "strike", "distance": distance,
            "source_clip": striker.frame_dir}  # fmt: skip
    return _scene([(a, s_sc), (b, p_sc)], rng.uniform(-np.pi / 3, np.pi / 3), striker.fps, label, meta)


def normal_pair(kind: str, a: Clip, b: Clip, rng: np.random.Generator, frames: int = 48) -> Clip:
    """Two people side by side (standing or walking) or talking face to face."""
    xa, sa = person3d(a)
    xb, sb = person3d(b)
    if kind == "walking side by side":
        t = min(len(xa), len(xb))
        face = rng.uniform(-np.pi, np.pi)
        gap = rng.uniform(0.5, 0.9)
        off = np.array([np.sin(face), -np.cos(face)]) * gap / 2  # perpendicular to the walk
        pa = place(xa[:t], face, (off[0], SCENE_DEPTH + off[1]))
        pb = place(xb[:t], face, (-off[0], SCENE_DEPTH - off[1]))
        persons = [(pa, sa[:t]), (pb, sb[:t])]
    else:
        xa, sa = _fit(xa, sa, frames)
        xb, sb = _fit(xb, sb, frames)
        if kind == "talking to each other":
            d = rng.uniform(1.0, 1.6)
            persons = [
                (place(xa, 0.0, (-d / 2, SCENE_DEPTH)), sa),
                (place(xb, np.pi, (d / 2, SCENE_DEPTH)), sb),
            ]
        else:
            d = rng.uniform(0.6, 1.0)
            face = -np.pi / 2
            persons = [
                (place(xa, face, (-d / 2, SCENE_DEPTH)), sa),
                (place(xb, face, (d / 2, SCENE_DEPTH)), sb),
            ]
    return _scene(
        persons, rng.uniform(-np.pi / 3, np.pi / 3), a.fps, kind, {"mapping_key": kind, "kind": kind}
    )


def synthesize(clips: list[Clip], names: list[str], count: int, normal_fraction: float,
               distance: tuple[float, float], seed: int) -> list[Clip]:  # fmt: skip
    """``count`` synthetic two-person clips from the single-person 3D ``clips`` (class ``names``)."""
    rng = np.random.default_rng([seed, 31])
    ok = [i for i, c in enumerate(clips) if c.keypoint3d is not None and c.num_persons == 1]
    strikes = {k: [i for i in ok if names[i] in v] for k, v in STRIKES.items()}
    neutral = [i for i in ok if names[i] in NEUTRAL]
    walks = [i for i in ok if names[i] in WALKS and clips[i].num_frames >= 16]
    out: list[Clip] = []
    n_normal = int(round(count * normal_fraction)) if ok else 0
    strike_kinds = [k for k, v in strikes.items() if v]
    for j in range(count):
        if j < n_normal:
            kind = NORMAL_KINDS[j % len(NORMAL_KINDS)]
            pool_ = walks if kind == NORMAL_KINDS[2] else neutral
            if not pool_:
                kind, pool_ = NORMAL_KINDS[0], neutral or ok
            a, b = (clips[int(i)] for i in rng.choice(pool_, 2))
            if kind == NORMAL_KINDS[0] and not neutral:  # any clip's first frame, held still
                a, b = a.frames(0, 1), b.frames(0, 1)
            out.append(normal_pair(kind, a, b, rng))
        elif strike_kinds:
            label = strike_kinds[j % len(strike_kinds)]
            striker = clips[int(rng.choice(strikes[label]))]
            partner = clips[int(rng.choice(neutral))] if neutral and rng.random() < 0.8 else None
            out.append(strike_pair(striker, partner, float(rng.uniform(*distance)), rng, label))
    for k, c in enumerate(out):
        c.frame_dir = f"synth/{k:05d}"
    return out


def with_synthetic_pairs(pool, cfg):
    """``pool`` plus ``cfg.synth_pairs`` synthetic clips (data set ``"synth"``), classes re-sorted."""
    from skelprompt.pretrain.data import Pool, class_key

    if not cfg.synth_pairs:
        return pool
    names = [pool.class_names[k] for k in pool.labels]
    new = synthesize(pool.clips, names, cfg.synth_pairs, cfg.synth_normal_fraction,
                     tuple(cfg.synth_strike_distance), cfg.seed)  # fmt: skip
    if not new:
        return pool
    all_names = [*names, *(class_key(str(c.label)) for c in new)]
    classes = sorted(set(all_names))
    index = {n: i for i, n in enumerate(classes)}
    class_ds = {n: list(pool.class_datasets.get(n, [])) for n in classes}
    for c in new:
        ds = class_ds[class_key(str(c.label))]
        if "synth" not in ds:
            ds.append("synth")
    return Pool(
        clips=[*pool.clips, *new],
        labels=np.array([index[n] for n in all_names], dtype=np.int64),
        datasets=[*pool.datasets, *(["synth"] * len(new))],
        class_names=classes,
        class_datasets=class_ds,
    )
