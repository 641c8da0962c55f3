"""COCO keypoint JSON: detection results or ground-truth annotation files.

Results (what a detector submits to COCO evaluation) are a list of
``{"image_id": ..., "category_id": 1, "keypoints": [x0, y0, c0, ...], "score": ...}``;
an optional ``"track_id"`` (PoseTrack style) gives the person's identity. A ground-truth
file is ``{"images": [...], "annotations": [{"image_id", "keypoints", ...}]}`` whose third
value is a visibility flag (0 = not labelled, 1, 2 = labelled): labelled joints get score 1.

Each image is one frame. Frames are ordered by image id (numbers, or the last number in a
string id or file name); when the ids are nearly consecutive numbers, missing numbers
become frames with nobody in them, so time stays right. Keypoints with 17 joints are
``coco17``; 26 (Halpe), 133 (COCO-WholeBody) and 136 (Halpe-136) joints start with the
COCO-17 body joints and are cut to them. Without track ids, people are linked across
frames by :class:`skelprompt.tracks.Tracker`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import MAX_IMAGE_SIDE, Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.atomic import write_text_atomic
from skelprompt.io.fields import describe, require_int, require_list
from skelprompt.io.json_files import check_frame_range, frame_number, keypoint_triples, load_json
from skelprompt.io.json_files import track_id as file_track_id
from skelprompt.tracks import FramePeople, clip_from_frames

LAYOUT = "coco17"
KNOWN_JOINT_COUNTS = {17: "COCO-17", 26: "Halpe-26", 133: "COCO-WholeBody", 136: "Halpe-136"}


def _frame_key(image_id: Any) -> tuple[int, Any]:
    if isinstance(image_id, bool):
        return (1, str(image_id))
    if isinstance(image_id, int):
        return (0, image_id)
    if isinstance(image_id, float) and image_id.is_integer():
        return (0, int(image_id))
    n = frame_number(str(image_id))
    return (0, n) if n is not None else (1, str(image_id))


def _image_id(path: Path, where: str, value: Any) -> str | int | float:
    """An image (frame) id: a string or a number, usable as a key and for ordering."""
    if not isinstance(value, str | int | float):
        raise FileFormatError(f"{path}: {where} must be a string or a number, got {describe(value)}")
    return value


def _parse_record(
    path: Path, k: int, r: Any, id_key: str | None, visibility_flags: bool
) -> tuple[Any, np.ndarray, np.ndarray, int | None] | None:
    """One person record -> (image id, xy [17, 2], score [17], track id); None when no joint."""
    if not isinstance(r, dict) or "image_id" not in r or "keypoints" not in r:
        raise FileFormatError(
            f"{path}: entry {k} is not a keypoint record (needs 'image_id' and 'keypoints')"
        )
    image_id = _image_id(path, f"entry {k}: 'image_id'", r["image_id"])
    flat = keypoint_triples(path, f"entry {k}: 'keypoints'", r["keypoints"])
    if flat.size % 3 or flat.size // 3 not in KNOWN_JOINT_COUNTS:
        raise FileFormatError(
            f"{path}: entry {k} has {flat.size} keypoint numbers; expected x, y, score triples for "
            + ", ".join(f"{n} ({name})" for n, name in KNOWN_JOINT_COUNTS.items())
            + " joints"
        )
    arr = flat.reshape(-1, 3)[:17]
    score = (arr[:, 2] > 0).astype(np.float64) if visibility_flags else np.clip(arr[:, 2], 0.0, 1.0)
    if not (score > 0).any():
        return None
    tid = file_track_id(r.get(id_key)) if id_key else None
    return image_id, arr[:, :2], score, tid


def parse_records(
    path: Path,
    records: list[Any],
    id_key: str | None,
    visibility_flags: bool,
    fps: float | None,
    img_shape: tuple[int, int] | None,
    min_track_frames: int,
    fmt: str,
    frame_order: dict[Any, Any] | None = None,
) -> Clip:
    """Per-person records ``{"image_id", "keypoints", [id_key]}`` -> one tracked clip."""
    by_frame: dict[Any, list[tuple[np.ndarray, np.ndarray, int | None]]] = {}
    for k, r in enumerate(records):
        parsed = _parse_record(path, k, r, id_key, visibility_flags)
        if parsed is None:
            continue
        image_id, xy, score, tid = parsed
        key = frame_order[image_id] if frame_order else image_id
        by_frame.setdefault(key, []).append((xy, score, tid))
    if frame_order:
        keys = sorted(set(frame_order.values()), key=_frame_key)
    else:
        keys = sorted(by_frame, key=_frame_key)
    if not keys:
        raise FileFormatError(f"{path}: no person with any keypoint in the file")
    nums = [_frame_key(k) for k in keys]
    start = 0
    if all(n[0] == 0 for n in nums):
        lo, hi = nums[0][1], nums[-1][1]
        check_frame_range(path, lo, hi)
        if hi - lo + 1 <= 4 * len(keys) + 100:  # nearly consecutive: keep the gaps as empty frames
            slots: list[Any] = [None] * (hi - lo + 1)
            for k, n in zip(keys, nums, strict=True):
                slots[n[1] - lo] = k
            keys, start = slots, lo
    frames: list[FramePeople] = []
    for key in keys:
        people = by_frame.get(key, []) if key is not None else []
        kp = np.asarray([p[0] for p in people], np.float32).reshape(-1, 17, 2)
        sc = np.asarray([p[1] for p in people], np.float32).reshape(-1, 17)
        tids = [p[2] for p in people]
        ids = None if any(t is None for t in tids) else np.asarray(tids, np.int64)
        frames.append((ids, kp, sc))
    clip = clip_from_frames(
        frames,
        17,
        min_track_frames,
        layout=LAYOUT,
        fps=fps,
        img_shape=img_shape,
        source=str(path),
        start_frame=int(start),
        meta={"format": fmt, "tracked_by": "file" if all(f[0] is not None for f in frames) else "skelprompt"},
    )
    if clip is None:
        raise FileFormatError(f"{path}: no person with any keypoint in the file")
    return clip


def _images(path: Path, images: Any) -> tuple[dict[Any, Any], set[tuple[int, int]]]:
    """A ground-truth file's ``images``: image id -> frame key, and the image sizes found."""
    order: dict[Any, Any] = {}
    shapes = set()
    for k, im in enumerate(require_list(images or [], path, "'images'")):
        if isinstance(im, dict) and "id" in im:
            where = f"images[{k}]"
            image_id = _image_id(path, f"{where}.id", im["id"])
            order[image_id] = _image_id(
                path, f"{where} frame", im.get("frame_id", im.get("file_name", image_id))
            )
            if "height" in im and "width" in im:
                h = require_int(im["height"], path, f"{where}.height", lo=1, hi=MAX_IMAGE_SIDE)
                w = require_int(im["width"], path, f"{where}.width", lo=1, hi=MAX_IMAGE_SIDE)
                shapes.add((h, w))
    return order, shapes


def read_coco_keypoints(
    path: str | os.PathLike[str],
    fps: float | None = None,
    img_shape: tuple[int, int] | None = None,
    min_track_frames: int = 1,
    category_id: int = 1,
) -> Clip:
    """Read a COCO keypoint results list or ground-truth file as one ``coco17`` clip."""
    p = Path(path)
    data = load_json(p)
    if isinstance(data, list):
        recs = [
            r for r in data if not isinstance(r, dict) or r.get("category_id", category_id) == category_id
        ]
        return parse_records(p, recs, "track_id", False, fps, img_shape, min_track_frames, "coco-results")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        order, shapes = _images(p, data.get("images"))
        if img_shape is None and len(shapes) == 1:
            img_shape = shapes.pop()
        recs = [
            a
            for a in data["annotations"]
            if not isinstance(a, dict) or a.get("category_id", category_id) == category_id
        ]
        missing = [
            a.get("image_id")
            for k, a in enumerate(recs)
            if isinstance(a, dict)
            and order
            and _image_id(p, f"annotation {k}: 'image_id'", a.get("image_id")) not in order
        ]
        if missing:
            raise FileFormatError(f"{p}: annotation refers to image id {missing[0]!r} not listed in 'images'")
        return parse_records(
            p, recs, "track_id", True, fps, img_shape, min_track_frames, "coco-annotations", order or None
        )
    raise FileFormatError(
        f"{p}: not a COCO keypoint file (expected a list of results or a dict with 'annotations')"
    )


def visible_people(clip: Clip) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, list[float]]]:
    """For writers: ``(frame, person, keypoints [V, 2], scores [V], flat [x, y, c]*V rounded)``
    of every person with at least one visible joint, frame by frame."""
    for t in range(clip.num_frames):
        for m in range(clip.num_persons):
            sc = clip.keypoint_score[m, t]
            if (sc > 0).any():
                kp = clip.keypoint[m, t]
                flat = [round(float(v), 3) for v in np.concatenate([kp, sc[:, None]], 1).reshape(-1)]
                yield t, m, kp, sc, flat


def track_id(clip: Clip, m: int) -> int:
    return int(clip.track_ids[m]) if clip.track_ids is not None else m


def write_coco_results(path: str | os.PathLike[str], clip: Clip) -> None:
    """Write a ``coco17`` clip as a COCO keypoint results list (``image_id`` = frame index,
    ``track_id`` = the clip's track id)."""
    if clip.layout != LAYOUT:
        raise FileFormatError(
            f"{path}: COCO keypoint results hold layout {LAYOUT}, the clip is {clip.layout}"
        )
    out = [
        {
            "image_id": int(clip.start_frame + t),
            "category_id": 1,
            "keypoints": flat,
            "score": round(float(sc.mean()), 4),
            "track_id": track_id(clip, m),
        }
        for t, m, _, sc, flat in visible_people(clip)
    ]
    write_text_atomic(path, json.dumps(out))
