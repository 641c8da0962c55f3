"""OpenPose JSON output (``--write_json``): one ``*_keypoints.json`` file per frame.

Each file is ``{"version": ..., "people": [{"person_id": [-1], "pose_keypoints_2d":
[x0, y0, c0, x1, y1, c1, ...]}, ...]}``. BODY_25 (25 joints) and COCO-18 (18 joints)
models are read; both become layout ``openpose18`` (BODY_25's mid-hip and six foot joints
are dropped, the other 18 keep OpenPose's COCO-18 order). A joint OpenPose did not find is
``0, 0, 0``. Frames are ordered by the last number in the file name (OpenPose writes
``<name>_000000000012_keypoints.json``). OpenPose does not track people unless run with
``--tracking``: when every person has a ``person_id`` >= 0 those ids are used, otherwise
people are linked across frames by :class:`skelprompt.tracks.Tracker`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.atomic import make_folder, write_text_atomic
from skelprompt.io.json_files import frame_number, keypoint_triples, load_json, track_id
from skelprompt.tracks import FramePeople, clip_from_frames

LAYOUT = "openpose18"
# For each openpose18 joint, its index in BODY_25 (skips 8 = MidHip and 19-24 = feet).
BODY25_TO_OPENPOSE18 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]


__all__ = ["BODY25_TO_OPENPOSE18", "frame_number", "read_openpose", "write_openpose"]


def _parse_person(path: Path, k: int, person: Any) -> tuple[np.ndarray, np.ndarray, int | None]:
    if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
        raise FileFormatError(f"{path}: people[{k}] has no 'pose_keypoints_2d' list")
    flat = keypoint_triples(path, f"people[{k}].pose_keypoints_2d", person["pose_keypoints_2d"])
    if flat.size == 25 * 3:
        arr = flat.reshape(25, 3)[BODY25_TO_OPENPOSE18]
    elif flat.size == 18 * 3:
        arr = flat.reshape(18, 3)
    else:
        raise FileFormatError(
            f"{path}: people[{k}].pose_keypoints_2d has {flat.size} numbers; expected 75 (BODY_25) "
            "or 54 (COCO-18) x, y, confidence triples"
        )
    score = np.clip(arr[:, 2], 0.0, 1.0)
    return arr[:, :2], score, track_id(person.get("person_id"))


def _json_files(src: str | os.PathLike[str] | list[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(src, list | tuple):
        files = [Path(f) for f in src]
    else:
        p = Path(src)
        if not p.exists():
            raise FileFormatError(f"{p}: no such file or folder")
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        if not files:
            raise FileFormatError(f"{p}: folder holds no OpenPose .json files")
    nums = [frame_number(f.stem) for f in files]
    if all(n is not None for n in nums):
        files = [f for _, f in sorted(zip(nums, files, strict=True), key=lambda x: (x[0], x[1].name))]
    return files


def read_openpose(
    src: str | os.PathLike[str] | list[str | os.PathLike[str]],
    fps: float | None = None,
    img_shape: tuple[int, int] | None = None,
    min_track_frames: int = 1,
) -> Clip:
    """Read a folder (or list) of per-frame OpenPose JSON files into one ``openpose18`` clip."""
    files = _json_files(src)
    frames: list[FramePeople] = []
    for f in files:
        data = load_json(f)
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise FileFormatError(f"{f}: not an OpenPose keypoint file (no 'people' list)")
        parsed = [_parse_person(f, k, p) for k, p in enumerate(data["people"])]
        parsed = [p for p in parsed if (p[1] > 0).any()]
        kp = np.asarray([p[0] for p in parsed], np.float32).reshape(-1, 18, 2)
        sc = np.asarray([p[1] for p in parsed], np.float32).reshape(-1, 18)
        tids = [p[2] for p in parsed]
        ids = None if any(t is None for t in tids) else np.asarray(tids, np.int64)
        frames.append((ids, kp, sc))
    where = Path(src) if not isinstance(src, list | tuple) else files[0].parent
    clip = clip_from_frames(
        frames,
        18,
        min_track_frames,
        layout=LAYOUT,
        fps=fps,
        img_shape=img_shape,
        source=str(where),
        meta={"format": "openpose", "frame_files": len(files)},
    )
    if clip is None:
        raise FileFormatError(f"{where}: no person in {len(files)} OpenPose frame file(s)")
    return clip


def write_openpose(folder: str | os.PathLike[str], clip: Clip, prefix: str = "frame") -> list[Path]:
    """Write an ``openpose18`` clip as per-frame COCO-18 OpenPose JSON files (with person_id)."""
    if clip.layout != LAYOUT:
        raise FileFormatError(f"{folder}: OpenPose files hold layout {LAYOUT}, the clip is {clip.layout}")
    out = make_folder(folder)
    paths = []
    for t in range(clip.num_frames):
        people = []
        for m in range(clip.num_persons):
            sc = clip.keypoint_score[m, t]
            if not (sc > 0).any():
                continue
            arr = np.concatenate([clip.keypoint[m, t], sc[:, None]], axis=1)
            arr[sc <= 0] = 0.0
            pid = int(clip.track_ids[m]) if clip.track_ids is not None else m
            people.append(
                {"person_id": [pid], "pose_keypoints_2d": [round(float(v), 3) for v in arr.reshape(-1)]}
            )
        p = out / f"{prefix}_{clip.start_frame + t:012d}_keypoints.json"
        write_text_atomic(p, json.dumps({"version": 1.3, "people": people}))
        paths.append(p)
    return paths
