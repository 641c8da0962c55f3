"""PRECOG 2016 aggressive strikes: 1 person, Kinect SDK 20 joints, per-frame labels.

``CSV/Seq{s}_{subject}.csv``: a header of joint names, then one frame a line: 20 fields ``x y z``
separated by ``;`` and a 21st field, the frame's label (0 = neutral stance, 1..8 strikes). One clip
per contiguous run of equal labels. Kinect v1 camera space converted to x right / y up / z depth.
The frame rate is not documented (segment lengths suggest Kinect's 30 fps).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import (
    clip_from_3d,
    dataset_dir,
    fail,
    has_joints,
    kinect_sdk_to_camera,
    read_text,
)

FOLDER = "precog_aggressive"
FPS = 30.0
LABELS = {
    0: "neutral stance",
    1: "right punch",
    2: "left punch",
    3: "front right kick",
    4: "front left kick",
    5: "side right kick",
    6: "side left kick",
    7: "back fist",
    8: "elbow strike",
}
_NAME = re.compile(r"Seq(\d+)_(\d+)\.csv$")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One recording -> joints float32 [T, 20, 3] (Kinect space) and labels int [T]."""
    lines = read_text(path).splitlines()
    xyz, lab = [], []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.strip().split(";")
        if len(fields) != 21:
            raise fail(
                path, f"line {n} has {len(fields)} ';'-separated fields, expected 21 (20 joints + label)"
            )
        try:
            vals = [float(v) for f in fields[:20] for v in f.split()]
            label = int(fields[20])
        except ValueError:
            raise fail(path, f"line {n} holds a value that is not a number") from None
        if len(vals) != 60:
            raise fail(path, f"line {n} has {len(vals)} coordinates, expected 60 (20 joints x 3)")
        if label not in LABELS:
            raise fail(path, f"line {n}: unknown action label {label}")
        xyz.append(vals)
        lab.append(label)
    if not xyz:
        raise fail(path, "no frames")
    return np.asarray(xyz, np.float32).reshape(-1, 20, 3), np.asarray(lab, int)


MIN_RUN = 3  # label runs shorter than this (1-frame glitches in the source) join the run before them


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    cuts = np.flatnonzero(np.diff(labels)) + 1
    bounds = [0, *cuts.tolist(), len(labels)]
    return [(a, b, int(labels[a])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def segments(labels: np.ndarray, min_run: int = MIN_RUN) -> list[tuple[int, int, int]]:
    """Contiguous runs of equal labels: (start, stop, label).

    Runs shorter than ``min_run`` frames are relabelled as the run before them (the first run:
    as the run after it), so that 1-frame label glitches neither cut a strike in two nor make
    1-frame clips.
    """
    lab = np.asarray(labels).copy()
    runs = _runs(lab)
    for i, (a, b, _) in enumerate(runs):
        if b - a < min_run and len(runs) > 1:
            lab[a:b] = lab[a - 1] if a > 0 else runs[i + 1][2]
    return _runs(lab)


def load_recordings(data_root: Path) -> list[Clip]:
    """Whole recordings, one clip each, with per-frame labels in ``meta['frame_labels']``."""
    root = dataset_dir(data_root, FOLDER)
    files = sorted(
        (root / "CSV").glob("Seq*_*.csv"),
        key=lambda p: _sequence_key(p.name),
    )
    if not files:
        raise fail(root, "no CSV/Seq*_*.csv files")
    out = []
    for f in files:
        m = _NAME.search(f.name)
        if not m:
            raise fail(f, "file name is not Seq<script>_<subject>.csv")
        xyz, lab = read_csv(f)
        c = clip_from_3d(
            kinect_sdk_to_camera(xyz)[None],
            "kinect20",
            fps=FPS,
            label=None,
            source=str(f),
            frame_dir=f"precog/Seq{m[1]}_{m[2]}",
            meta={
                "dataset": "precog",
                "script": int(m[1]),
                "subject": int(m[2]),
                "frame_labels": lab.tolist(),
            },
        )
        out.append(c)
    return out


def load(data_root: Path) -> list[Clip]:
    """One clip per contiguous labelled segment (strikes and neutral stances).

    Segments without a single tracked joint (recordings Seq2_10 and Seq4_10 are all zeros) are
    left out.
    """
    clips = []
    for rec in load_recordings(data_root):
        lab = np.asarray(rec.meta["frame_labels"])
        for k, (a, b, y) in enumerate(segments(lab)):
            c = rec.frames(a, b)
            if not has_joints(c):
                continue
            c.label = LABELS[y]
            c.frame_dir = f"{rec.frame_dir}/{k:02d}"
            c.meta = {key: v for key, v in rec.meta.items() if key != "frame_labels"}
            c.meta.update({"segment": k, "label_index": y, "start": a, "stop": b})
            clips.append(c)
    return clips


def _sequence_key(name: str) -> tuple[int, ...]:
    """Seq<a>_<b>.csv sorts by (a, b) as numbers; other names first."""
    m = _NAME.search(name)
    return tuple(int(x) for x in m.groups()) if m else (0, 0)
