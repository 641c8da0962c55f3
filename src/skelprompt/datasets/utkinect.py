"""UTKinect-Action3D, cut into the labelled action segments: 1 person, Kinect SDK 20 joints.

Metres, Kinect v1 camera space converted to x right / y up / z depth. The source skips frames
(nominal 30 fps, the stored frames are irregular), so ``fps`` is approximate.
"""

from __future__ import annotations

import re
from pathlib import Path

from skelprompt.clip import Clip
from skelprompt.datasets._common import (
    check_offsets,
    check_shape,
    clip_from_3d,
    dataset_dir,
    fail,
    kinect_sdk_to_camera,
    load_npz,
)

FOLDER = "utkinect_action3d"
FILE = "utkinect_segments.npz"
FPS = 30.0
_ID = re.compile(r"s(\d+)_e(\d+):(\w+)$")


def readable(name: str) -> str:
    """``sitDown`` -> ``sit down``."""
    return re.sub(r"(?<=[a-z])([A-Z])", r" \1", name).lower()


def load(data_root: Path) -> list[Clip]:
    path = dataset_dir(data_root, FOLDER) / FILE
    z = load_npz(
        path,
        {"joints": 3, "offsets": 1, "ids": 1, "labels": 1, "frame_range": 2, "label_names": 1},
        text=("ids", "label_names"),
        floats=("joints",),
    )
    j = z["joints"]
    check_shape(path, j, (20, 3), "joints")
    n = len(z["ids"])
    check_offsets(path, z["offsets"], len(j), n)
    if len(z["labels"]) != n or z["frame_range"].shape != (n, 2):
        raise fail(path, f"'labels'/'frame_range' do not match the {n} segments")
    names = [str(s) for s in z["label_names"]]
    clips = []
    for i in range(n):
        sid = str(z["ids"][i])
        m = _ID.match(sid)
        if not m:
            raise fail(path, f"segment id {sid!r} is not sXX_eYY:action")
        lab = int(z["labels"][i])
        if not 0 <= lab < len(names):
            raise fail(path, f"segment {sid}: label {lab} outside 0..{len(names) - 1}")
        seq = j[int(z["offsets"][i]) : int(z["offsets"][i + 1])]
        if len(seq) == 0:
            raise fail(path, f"segment {sid} has no frames")
        clips.append(
            clip_from_3d(
                kinect_sdk_to_camera(seq)[None],
                "kinect20",
                fps=FPS,
                label=readable(names[lab]),
                source=str(path),
                frame_dir=f"utkinect/{sid.replace(':', '/')}",
                meta={
                    "dataset": "utkinect",
                    "id": sid,
                    "class": names[lab],
                    "subject": int(m[1]),
                    "episode": int(m[2]),
                    "frame_range": [int(v) for v in z["frame_range"][i]],
                },
            )
        )
    return clips
