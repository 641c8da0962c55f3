"""JHMDB ground-truth 2D puppet joints (DD-Net release): 14 of 21 classes, 3 official splits.

``GT_{train,test}_{1,2,3}.pkl`` = dict(pose=list[(T, 15, 2)], label=list[str]); the same 609
clips appear in every split. The pickles carry no video names, so clips are matched across
splits by their exact pose arrays and numbered in split-1 order (train, then test).
``meta['splits'] = {"1": "train"|"test", "2": ..., "3": ...}``. Coordinates are DD-Net
normalised (centred, scaled, y down), ``img_shape = None``.

The pickles are the data set's own format. They are read with skelprompt's restricted
unpickler (``io.safe_pickle``), which allows plain data and NumPy arrays only: a pickle that
names anything else is refused before any of it runs, so no ``--trust-pickle`` is needed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import clip_from_2d, dataset_dir, fail
from skelprompt.io.fields import numeric_array, require_list
from skelprompt.io.safe_pickle import safe_load

FOLDER = "jhmdb_ddnet"
FPS = 30.0
CLASSES = ("catch", "clap", "golf", "jump", "pick", "pour", "pullup", "push", "run", "sit", "stand",
           "throw", "walk", "wave")  # fmt: skip
CLASS_NAMES = {"pullup": "pull up", "pick": "pick up", "golf": "golf swing"}


def read_pickle(path: Path) -> tuple[list[np.ndarray], list[str]]:
    if not path.is_file():
        raise fail(path, "file not found")
    d = safe_load(path)
    if not isinstance(d, dict) or "pose" not in d or "label" not in d:
        raise fail(path, "expected a dict with keys 'pose' and 'label'")
    poses = require_list(d["pose"], path, "'pose'")
    labels = require_list(d["label"], path, "'label'")
    if not all(isinstance(x, str) for x in labels):
        raise fail(path, "every 'label' must be a string")
    if len(poses) != len(labels):
        raise fail(path, f"{len(poses)} poses but {len(labels)} labels")
    out = []
    for i, p in enumerate(poses):
        a = numeric_array(p, path, f"pose {i}")
        if a.ndim != 3 or a.shape[1:] != (15, 2) or a.shape[0] == 0:
            raise fail(path, f"pose {i} must be a numeric (T, 15, 2) array, got {a.shape} {a.dtype}")
        out.append(a.astype(np.float64))
    return out, labels


def _key(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes() + str(a.shape).encode()).hexdigest()


def load(data_root: Path) -> list[Clip]:
    root = dataset_dir(data_root, FOLDER)
    order: list[str] = []
    info: dict[str, dict] = {}
    for s in (1, 2, 3):
        for part in ("train", "test"):
            f = root / f"GT_{part}_{s}.pkl"
            for p, lab in zip(*read_pickle(f), strict=True):
                k = _key(p)
                if k not in info:
                    info[k] = {"pose": p, "label": lab, "splits": {}, "source": f}
                    order.append(k)
                elif info[k]["label"] != lab:
                    raise fail(
                        f, f"a clip labelled {lab!r} here is labelled {info[k]['label']!r} in another split"
                    )
                info[k]["splits"][str(s)] = part
    counts: dict[str, int] = {}
    clips = []
    for k in order:
        d = info[k]
        lab = d["label"]
        idx = counts[lab] = counts.get(lab, -1) + 1
        clips.append(
            clip_from_2d(
                d["pose"][None].astype(np.float32),
                "jhmdb15",
                fps=FPS,
                img_shape=None,
                label=CLASS_NAMES.get(lab, lab),
                source=str(d["source"]),
                frame_dir=f"jhmdb/{lab}/{idx:03d}",
                meta={"dataset": "jhmdb", "class": lab, "splits": dict(sorted(d["splits"].items()))},
            )
        )
    return clips
