"""The pretraining pool: clips of several data sets, merged class names, split, text targets.

Class names are merged across data sets when they are identical after lower-casing and
stripping (``"push"`` in JHMDB and UTKinect is one class; ``"pushing"`` in K3HI stays its own
class: the label sets are kept as each data set gives them). Only the data sets asked for
are read: an excluded data set's loader is never called.

URFD (per-frame fall labels) is not in the default pool: it is the urfd-fall benchmark's
data. When included, each video is cut into windows (``urfd_window`` frames, ``urfd_stride``
apart) labelled "falling down" (the window holds a falling frame), "lying on the floor" (all
fallen) or "standing or walking" (no fall frame); windows mixing only 0 and 2 are skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.pretrain.config import PretrainConfig

SINGLE_TEMPLATES = ("{name}", "a person {name}", "a person is {name}", "someone doing {name}")
PAIR_TEMPLATES = (
    "{name}",
    "two people {name}",
    "a person {name} another person",
    "two people interacting: {name}",
)
URFD_LABELS = {"fall": "falling down", "fallen": "lying on the floor", "normal": "standing or walking"}


def class_key(label: str) -> str:
    return " ".join(str(label).lower().strip().split())


def urfd_windows(clips: list[Clip], window: int, stride: int) -> list[Clip]:
    out = []
    for c in clips:
        labels = np.asarray(c.meta.get("frame_labels", []))
        if len(labels) != c.num_frames:
            continue
        for s in range(0, max(1, c.num_frames - window + 1), stride):
            lab = labels[s : s + window]
            if (lab == 1).any():
                name = URFD_LABELS["fall"]
            elif (lab == 2).all():
                name = URFD_LABELS["fallen"]
            elif (lab == 0).all():
                name = URFD_LABELS["normal"]
            else:
                continue
            w = c.frames(s, s + window)
            if not (w.keypoint_score > 0).any():
                continue
            w.label = name
            w.meta = {k: v for k, v in c.meta.items() if k not in ("frame_labels",)}
            out.append(w)
    return out


def load_datasets(cfg: PretrainConfig, data_root: str | Path | None) -> dict[str, list[Clip]]:
    """Load the data sets of ``cfg.used_datasets()`` (only those)."""
    from skelprompt.datasets.registry import get_info, load_dataset

    names = cfg.used_datasets()
    if not names:
        raise SkelpromptError("no data set left to pretrain on (check --include / --exclude)")
    rng = np.random.default_rng(cfg.seed)
    out: dict[str, list[Clip]] = {}
    for name in names:
        get_info(name)  # a clear error for unknown names
        clips = load_dataset(name, data_root)
        if name == "urfd":
            clips = urfd_windows(clips, cfg.urfd_window, cfg.urfd_stride)
        clips = [c for c in clips if c.label is not None and (c.keypoint_score > 0).any()]
        if cfg.max_clips_per_dataset and len(clips) > cfg.max_clips_per_dataset:
            keep = np.sort(rng.choice(len(clips), cfg.max_clips_per_dataset, replace=False))
            clips = [clips[i] for i in keep]
        out[name] = clips
    return out


def class_descriptions(data_root: str | Path | None) -> dict[str, str]:
    """Long class descriptions (GAP's generated sentences for NTU-120 and NW-UCLA) by class key."""
    from skelprompt.datasets import label_lists
    from skelprompt.datasets.registry import default_data_root

    root = Path(data_root) if data_root is not None else default_data_root()
    out: dict[str, str] = {}
    for ds in ("ntu120", "ucla"):
        try:
            for k, v in label_lists.class_descriptions(root, ds, "sentence").items():
                out.setdefault(class_key(k), v)
        except (SkelpromptError, OSError):
            continue
    return out


@dataclass
class Pool:
    """All training clips with integer labels into ``class_names``."""

    clips: list[Clip]
    labels: np.ndarray  # [N] int
    datasets: list[str]  # [N] source data set of each clip
    class_names: list[str]
    class_datasets: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.datasets))


def build_pool(cfg: PretrainConfig, data_root: str | Path | None) -> Pool:
    per = load_datasets(cfg, data_root)
    rng = np.random.default_rng(cfg.seed + 1)
    names: list[str] = []
    class_ds: dict[str, list[str]] = {}
    items: list[tuple[Clip, str, str]] = []
    for ds, clips in per.items():
        for c in clips:
            k = class_key(str(c.label))
            if k not in class_ds:
                class_ds[k] = []
                names.append(k)
            if ds not in class_ds[k]:
                class_ds[k].append(ds)
            items.append((c, k, ds))
    names = sorted(names)
    if cfg.max_clips_per_class:
        by: dict[str, list[int]] = {}
        for i, (_, k, _) in enumerate(items):
            by.setdefault(k, []).append(i)
        keep = []
        for _k, idx in by.items():
            if len(idx) > cfg.max_clips_per_class:
                idx = list(rng.choice(idx, cfg.max_clips_per_class, replace=False))
            keep.extend(idx)
        items = [items[i] for i in sorted(keep)]
    index = {n: i for i, n in enumerate(names)}
    return Pool(
        clips=[c for c, _, _ in items],
        labels=np.array([index[k] for _, k, _ in items], dtype=np.int64),
        datasets=[d for _, _, d in items],
        class_names=names,
        class_datasets={k: class_ds[k] for k in names},
    )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: about ``fraction`` of each class (with >= 3 clips) held out."""
    rng = np.random.default_rng(seed + 2)
    train: list[int] = []
    val: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_val = int(round(fraction * len(idx))) if len(idx) >= 3 else 0
        if fraction > 0 and len(idx) >= 3:
            n_val = max(1, n_val)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


class TextBank:
    """Text targets: every template of every class, embedded once by the frozen text encoder.

    ``sample(labels, persons, rng)`` picks, per clip, a random template (pair templates for
    multi-person clips) or, with probability ``description_p``, the class's long description.
    ``class_embeddings`` holds the plain class names (for retrieval accuracy).
    """

    def __init__(self, class_names: list[str], encoder, descriptions: dict[str, str] | None = None,
                 description_p: float = 0.3) -> None:  # fmt: skip
        descriptions = descriptions or {}
        texts: list[str] = []
        pos: dict[str, int] = {}

        def add(t: str) -> int:
            if t not in pos:
                pos[t] = len(texts)
                texts.append(t)
            return pos[t]

        self.class_index = np.array([add(n) for n in class_names])
        self.single = [[add(t.format(name=n)) for t in SINGLE_TEMPLATES] for n in class_names]
        self.pair = [[add(t.format(name=n)) for t in PAIR_TEMPLATES] for n in class_names]
        self.description = [add(descriptions[n]) if n in descriptions else -1 for n in class_names]
        self.description_p = description_p
        self.texts = texts
        self.embeddings = np.asarray(encoder.encode(texts), np.float32)
        self.class_embeddings = self.embeddings[self.class_index]

    @property
    def num_descriptions(self) -> int:
        return sum(d >= 0 for d in self.description)

    def sample(self, labels: np.ndarray, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rows = []
        for lab, m in zip(labels, persons, strict=True):
            d = self.description[lab]
            if d >= 0 and rng.random() < self.description_p:
                rows.append(d)
            else:
                opts = self.pair[lab] if m >= 2 else self.single[lab]
                rows.append(opts[int(rng.integers(len(opts)))])
        return self.embeddings[np.array(rows)]
