"""MSR Action3D (real-world coordinates, repacked to one npz): 1 person, 20 MSR-order joints, 15 fps.

Coordinates are metres with y up; the source's left shoulder lies at larger x for subjects facing
the camera, i.e. x already points to the image's right, so no axis is flipped. Each joint's
4th value is a tracking confidence in {0, 1}: score 1 where it is 1, 0.5 where it is 0 but the
joint has coordinates, 0 where the joint is all-zero (lost). Class names are lower-cased
("draw x"). The one sequence without any joint (a13_s09_e02, all zeros; not used in CVPR'12)
is left out, so :func:`load` returns 566 clips, 557 of them ``used_in_cvpr12``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import (
    check_offsets,
    check_shape,
    clip_from_3d,
    dataset_dir,
    fail,
    has_joints,
    load_npz,
)

FOLDER = "msr_action3d"
FILE = "msr_action3d_skeleton3d.npz"
FPS = 15.0
ACTION_SETS = {
    "AS1": (2, 3, 5, 6, 10, 13, 18, 20),
    "AS2": (1, 4, 7, 8, 9, 11, 12, 14),
    "AS3": (6, 14, 15, 16, 17, 18, 19, 20),
}


def load(data_root: Path) -> list[Clip]:
    path = dataset_dir(data_root, FOLDER) / FILE
    z = load_npz(
        path,
        {
            "joints": 3,
            "offsets": 1,
            "ids": 1,
            "action": 1,
            "subject": 1,
            "episode": 1,
            "used_in_cvpr12": 1,
            "label_names": 1,
        },
        text=("ids", "label_names"),
        floats=("joints",),
    )
    j = z["joints"]
    check_shape(path, j, (20, 4), "joints")
    n = len(z["ids"])
    check_offsets(path, z["offsets"], len(j), n)
    for k in ("action", "subject", "episode", "used_in_cvpr12"):
        if len(z[k]) != n:
            raise fail(path, f"{k!r} has {len(z[k])} entries for {n} sequences")
    names = [str(s).lower() for s in z["label_names"]]
    if z["action"].min() < 1 or z["action"].max() > len(names):
        raise fail(path, f"action numbers must lie in 1..{len(names)}")
    clips = []
    for i in range(n):
        o0, o1 = int(z["offsets"][i]), int(z["offsets"][i + 1])
        seq = j[o0:o1]
        if len(seq) == 0:
            raise fail(path, f"sequence {z['ids'][i]} has no frames")
        score = np.where(seq[..., 3] > 0, 1.0, 0.5)[None]
        a = int(z["action"][i])
        clip = clip_from_3d(
            seq[None, ..., :3],
            "msr20",
            score=score,
            fps=FPS,
            label=names[a - 1],
            source=str(path),
            frame_dir=f"msr/{z['ids'][i]}",
            meta={
                "dataset": "msr",
                "id": str(z["ids"][i]),
                "action": a,
                "subject": int(z["subject"][i]),
                "episode": int(z["episode"][i]),
                "used_in_cvpr12": bool(z["used_in_cvpr12"][i]),
                "action_sets": [k for k, v in ACTION_SETS.items() if a in v],
            },
        )
        if has_joints(clip):
            clips.append(clip)
    return clips
