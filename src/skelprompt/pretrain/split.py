"""Validation split at recording level: windows of one recording never sit on both sides.

What a recording is, per data set (from each loader's ``meta``): NW-UCLA films one performance
from 3 cameras at once (``aAA_sSS_eEE`` without the view), UTKinect and PRECOG cut several
labelled segments out of one sequence (subject + episode, script + subject), DeepMimic and URFD
cut windows out of one motion / video; SBU, K3HI, MSR and JHMDB clips are whole recordings.
Synthetic clips (``dataset == "synth"``) always train: validation stays on real data.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from skelprompt.clip import Clip

SYNTH = "synth"


def recording_id(dataset: str, clip: Clip) -> str | None:
    """The recording a clip was cut from (``None``: never held out)."""
    m = clip.meta
    if dataset == SYNTH:
        return None
    if dataset == "nw_ucla":
        return f"nw_ucla/a{m['action_code']}_s{m['subject']}_e{m['episode']}"
    if dataset == "utkinect":
        return f"utkinect/s{m['subject']}_e{m['episode']}"
    if dataset == "precog":
        return f"precog/{m['script']}_{m['subject']}"
    if dataset == "deepmimic":
        return f"deepmimic/{m['clip_name']}"
    if dataset == "urfd":
        return f"urfd/{m['video']}"
    return f"{dataset}/{clip.frame_dir or clip.source or id(clip)}"


def recording_split(labels: np.ndarray, groups: list[str | None], fraction: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Indices ``(train, val)``: whole recordings held out, up to ``fraction`` of each class.

    Recordings are visited in a seeded random order; one goes to validation when that keeps
    every class it holds within ``max(1, round(fraction * n))`` held-out clips. Classes with
    fewer than 3 clips or one recording stay in training."""
    labels = np.asarray(labels)
    n_class = Counter(labels.tolist())
    recs_of: dict[int, set[str]] = {}
    members: dict[str, list[int]] = {}
    for i, (lab, g) in enumerate(zip(labels.tolist(), groups, strict=True)):
        if g is not None:
            members.setdefault(g, []).append(i)
            recs_of.setdefault(lab, set()).add(g)
    cap = {c: (max(1, round(fraction * n)) if fraction > 0 and n >= 3 and len(recs_of.get(c, ())) >= 2 else 0)
           for c, n in n_class.items()}  # fmt: skip
    held: Counter[int] = Counter()
    val: list[int] = []
    order = sorted(members)
    for k in np.random.default_rng(seed + 2).permutation(len(order)):
        idx = members[order[k]]
        need = Counter(labels[idx].tolist())
        if all(held[c] + v <= cap[c] for c, v in need.items()):
            held.update(need)
            val.extend(idx)
    is_val = np.zeros(len(labels), bool)
    is_val[val] = True
    return np.flatnonzero(~is_val).astype(np.int64), np.flatnonzero(is_val).astype(np.int64)


def split_pool(pool, fraction: float, seed: int, by: str) -> tuple[np.ndarray, np.ndarray]:
    """``by="recording"`` (:func:`recording_split`) or ``"clip"`` (the old stratified split)."""
    from skelprompt.pretrain.data import stratified_split

    if by == "clip":
        return stratified_split(pool.labels, fraction, seed)
    groups = [recording_id(d, c) for d, c in zip(pool.datasets, pool.clips, strict=True)]
    return recording_split(pool.labels, groups, fraction, seed)
