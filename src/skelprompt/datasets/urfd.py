"""UR Fall Detection, the 30 fall videos: AlphaPose-style 2D keypoints with per-frame labels.

``pose_urfd_3classes.csv``: video, frame, 13 x (x, y, score) normalised by the image size, label
(0 not fall, 1 falling, 2 fallen). One clip per video; coordinates are scaled to pixels of the
640 x 480 camera-0 frames (``img_shape = (480, 640)``). Frames the CSV skips are filled with
missing joints (score 0) and the previous frame's label; frames listed twice (fall-13, fall-14
hold each pose two or three times with different labels) keep the first pose and the largest
label, and are listed in ``meta['ambiguous_frames']``. ``meta['frame_labels']`` is one int a
frame; ``start_frame`` is the first frame number in the source video.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import clip_from_2d, dataset_dir, fail, read_text, require_file

FOLDER = "urfd_fall_alphapose"
FILE = "pose_urfd_3classes.csv"
FPS = 30.0
IMG_SHAPE = (480, 640)
JOINTS = ("Nose", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LHip", "RHip",
          "LKnee", "RKnee", "LAnkle", "RAnkle")  # fmt: skip
FRAME_LABELS = {0: "not fall", 1: "falling", 2: "fallen"}
MAX_GAP_FACTOR = 100  # a video's frame numbers may skip frames, not span millions for a few rows


def read_rows(path: Path) -> dict[str, list[tuple[int, np.ndarray, int]]]:
    """video -> [(frame, (13, 3) x/y/score, label)] in file order."""
    require_file(path)
    cols = [f"{j}_{c}" for j in JOINTS for c in "xys"]
    out: dict[str, list] = {}
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    need = ["video", "frame", *cols, "label"]
    missing = [c for c in need if c not in (reader.fieldnames or [])]
    if missing:
        raise fail(path, f"missing columns {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    for n, r in enumerate(reader, 2):
        try:
            frame, label = int(r["frame"]), int(r["label"])
            vals = np.array([float(r[c]) for c in cols], np.float32).reshape(13, 3)
        except (TypeError, ValueError):
            raise fail(path, f"line {n} holds a value that is not a number") from None
        if label not in FRAME_LABELS:
            raise fail(path, f"line {n}: label {label} is not 0, 1 or 2")
        out.setdefault(r["video"], []).append((frame, vals, label))
    if not out:
        raise fail(path, "no rows")
    return out


def load(data_root: Path) -> list[Clip]:
    path = dataset_dir(data_root, FOLDER) / FILE
    clips = []
    for video, rows in sorted(read_rows(path).items()):
        frames = [r[0] for r in rows]
        f0, f1 = min(frames), max(frames)
        t = f1 - f0 + 1
        if f0 < 0 or t > MAX_GAP_FACTOR * len(rows) + 1000:
            raise fail(
                path,
                f"video {video!r}: frame numbers {f0}..{f1} are negative or far apart for {len(rows)} rows",
            )
        kp = np.full((t, 13, 3), np.nan, np.float32)
        kp[..., 2] = 0.0
        labels = np.full(t, -1, int)
        seen = np.zeros(t, bool)
        ambiguous = set()
        for frame, vals, label in rows:
            i = frame - f0
            if seen[i]:
                if labels[i] != label or not np.array_equal(vals, kp[i]):
                    ambiguous.add(i)
                labels[i] = max(labels[i], label)
                continue
            kp[i], labels[i], seen[i] = vals, label, True
        for i in range(t):  # fill skipped frames with the previous label
            if labels[i] < 0:
                labels[i] = labels[i - 1]
        xy = kp[..., :2] * np.array([IMG_SHAPE[1], IMG_SHAPE[0]], np.float32)
        clips.append(
            clip_from_2d(
                xy[None],
                "coco13",
                score=kp[None, ..., 2],
                fps=FPS,
                img_shape=IMG_SHAPE,
                label="fall",
                source=str(path),
                frame_dir=f"urfd/{video}",
                start_frame=f0,
                meta={
                    "dataset": "urfd",
                    "video": video,
                    "frame_labels": labels.tolist(),
                    "missing_frames": np.flatnonzero(~seen).tolist(),
                    "ambiguous_frames": sorted(ambiguous),
                },
            )
        )
    return clips
