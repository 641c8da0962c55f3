"""Northwestern-UCLA Multiview Action3D (CTR-GCN release, repacked): 1 person, Kinect SDK 20 joints.

Names ``aAA_sSS_eEE_vVV`` (action code, subject, episode, view 1-3). Metres, Kinect v1 camera
space, converted to x right / y up / z depth (see ``kinect_sdk_to_camera``).
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

FOLDER = "nw_ucla_ctrgcn"
FILE = "nw_ucla_all_sqe.npz"
FPS = 30.0
_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)$")


def load(data_root: Path) -> list[Clip]:
    path = dataset_dir(data_root, FOLDER) / FILE
    z = load_npz(
        path,
        {"joints": 3, "offsets": 1, "names": 1, "labels": 1, "label_names": 1},
        text=("names", "label_names"),
        floats=("joints",),
    )
    j = z["joints"]
    check_shape(path, j, (20, 3), "joints")
    n = len(z["names"])
    check_offsets(path, z["offsets"], len(j), n)
    if len(z["labels"]) != n:
        raise fail(path, f"'labels' has {len(z['labels'])} entries for {n} sequences")
    label_names = [str(s) for s in z["label_names"]]
    clips = []
    for i in range(n):
        name = str(z["names"][i])
        m = _NAME.match(name)
        if not m:
            raise fail(path, f"sequence name {name!r} is not aAA_sSS_eEE_vVV")
        lab = int(z["labels"][i])
        if not 1 <= lab <= len(label_names):
            raise fail(path, f"sequence {name}: label {lab} outside 1..{len(label_names)}")
        seq = j[int(z["offsets"][i]) : int(z["offsets"][i + 1])]
        if len(seq) == 0:
            raise fail(path, f"sequence {name} has no frames")
        clips.append(
            clip_from_3d(
                kinect_sdk_to_camera(seq)[None],
                "kinect20",
                fps=FPS,
                label=label_names[lab - 1],
                source=str(path),
                frame_dir=f"nw_ucla/{name}",
                meta={
                    "dataset": "nw_ucla",
                    "name": name,
                    "action_code": int(m[1]),
                    "label_index": lab,
                    "subject": int(m[2]),
                    "episode": int(m[3]),
                    "view": int(m[4]),
                },
            )
        )
    return clips
