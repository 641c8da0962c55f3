"""SBU Kinect Interaction v2.0 (clean): two persons, 15 OpenNI joints, 15 fps.

``<set>/<class 01..08>/<seq>/skeleton_pos.txt``; each line = frame index + 2 x 15 x (x, y, z).
x, y are image-normalised (y down; the SBU README maps them linearly to real-world mm with
X = 1280 - 2560 x, Y = 960 - 1920 y), so ``keypoint = (640 x, 480 y)`` keeps the body's aspect
ratio (the units are those of a 640 x 480 frame, ``img_shape`` stays ``None``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import clip_from_2d, dataset_dir, fail, read_text

FOLDER = "sbu_kinect_interaction"
FPS = 15.0
CLASSES = {
    "01": "approaching",
    "02": "departing",
    "03": "kicking",
    "04": "punching",
    "05": "pushing",
    "06": "hugging",
    "07": "shaking hands",
    "08": "exchanging",
}
SCALE = np.array([640.0, 480.0], dtype=np.float32)


def read_file(path: Path) -> np.ndarray:
    """One ``skeleton_pos.txt`` -> float32 [2, T, 15, 3] (person, frame, joint, x/y/z)."""
    text = read_text(path)
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 91:
            raise fail(
                path, f"line {n} has {len(parts)} comma-separated values, expected 91 (frame + 2x15x3)"
            )
        try:
            rows.append([float(v) for v in parts[1:]])
        except ValueError:
            raise fail(path, f"line {n} holds a value that is not a number") from None
    if not rows:
        raise fail(path, "no frames")
    return np.asarray(rows, np.float32).reshape(-1, 2, 15, 3).transpose(1, 0, 2, 3)


def load(data_root: Path) -> list[Clip]:
    root = dataset_dir(data_root, FOLDER)
    files = sorted(root.glob("s*/*/*/skeleton_pos.txt"))
    if not files:
        raise fail(root, "no <set>/<class>/<seq>/skeleton_pos.txt files")
    clips = []
    for f in files:
        set_name, cls, seq = f.parts[-4], f.parts[-3], f.parts[-2]
        if cls not in CLASSES:
            raise fail(f, f"unknown class folder {cls!r}; expected 01..08")
        a = read_file(f)
        xy = a[..., :2] * SCALE
        missing = (a == 0).all(-1)
        xy[missing] = np.nan
        clips.append(
            clip_from_2d(
                xy,
                "openni15",
                fps=FPS,
                img_shape=None,
                label=CLASSES[cls],
                source=str(f),
                frame_dir=f"sbu/{set_name}/{cls}/{seq}",
                meta={
                    "dataset": "sbu",
                    "set": set_name,
                    "class": cls,
                    "seq": seq,
                    "subjects": [set_name[:3], set_name[3:]],
                },
            )
        )
    return clips
