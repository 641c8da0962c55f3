"""AlphaPose results JSON (``alphapose-results.json``, the default ``--format``).

A list of one record per detected person: ``{"image_id": "12.jpg", "category_id": 1,
"keypoints": [x0, y0, c0, ...], "score": ..., "box": [x, y, w, h], "idx": track}``. ``idx``
is the track id when AlphaPose ran with ``--pose_track`` / PoseFlow (an int, float or a
one-element list); without it people are linked across frames by
:class:`skelprompt.tracks.Tracker`. Frames are ordered by the number in
``image_id``. 17-joint (COCO) output is ``coco17``; Halpe-26/136 and COCO-WholeBody output
is cut to its first 17 (COCO body) joints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.atomic import write_text_atomic
from skelprompt.io.coco import parse_records, track_id, visible_people
from skelprompt.io.json_files import load_json


def read_alphapose(
    path: str | os.PathLike[str],
    fps: float | None = None,
    img_shape: tuple[int, int] | None = None,
    min_track_frames: int = 1,
) -> Clip:
    """Read an AlphaPose results JSON file as one ``coco17`` clip."""
    p = Path(path)
    data = load_json(p)
    if not isinstance(data, list):
        raise FileFormatError(
            f"{p}: not an AlphaPose results file (expected a JSON list of person records, "
            f"got {type(data).__name__}; only AlphaPose's default --format is read)"
        )
    return parse_records(p, data, "idx", False, fps, img_shape, min_track_frames, "alphapose")


def write_alphapose(path: str | os.PathLike[str], clip: Clip, image_ext: str = ".jpg") -> None:
    """Write a ``coco17`` clip as AlphaPose results (``image_id`` ``"<frame>.jpg"``, ``idx`` = track)."""
    if clip.layout != "coco17":
        raise FileFormatError(f"{path}: AlphaPose results hold layout coco17, the clip is {clip.layout}")
    out = []
    for t, m, kp, sc, flat in visible_people(clip):
        vis = kp[sc > 0]
        (x0, y0), (x1, y1) = vis.min(0), vis.max(0)
        out.append(
            {
                "image_id": f"{clip.start_frame + t}{image_ext}",
                "category_id": 1,
                "keypoints": flat,
                "score": round(float(1.0 + sc.mean() * 2), 4),  # AlphaPose scores are not in [0, 1]
                "box": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                "idx": track_id(clip, m),
            }
        )
    write_text_atomic(path, json.dumps(out))
