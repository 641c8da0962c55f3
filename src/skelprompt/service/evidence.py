"""An alert's evidence: an H.264 clip of the alert span plus a margin, with the tracked
skeletons drawn (alerting persons in red), and a JPEG snapshot. Both written atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelprompt.io.atomic import make_folder, write_bytes_atomic, write_with
from skelprompt.tracks import clip_from_frames
from skelprompt.video.reader import require_cv2
from skelprompt.video.render import draw_frame
from skelprompt.video.writer import H264Writer

JPEG_QUALITY = 85  # frames are kept JPEG-encoded in memory: ~20 KB instead of ~1.3 MB each
EVIDENCE_MAX_SIDE = 480  # frames kept for evidence are shrunk to this (cheaper JPEG and H.264)


@dataclass
class TrackedFrame:
    """One processed frame of a camera: its image (JPEG) and the tracked people on it."""

    index: int  # in the source
    time_s: float  # seconds into the stream
    jpeg: bytes
    ids: np.ndarray  # [P] track ids
    keypoints: np.ndarray  # [P, V, 2] pixels of the kept (possibly shrunk) image
    scores: np.ndarray  # [P, V]


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    cv2 = require_cv2()
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode a frame as JPEG")
    return bytes(buf)


def shrink(image: np.ndarray, max_side: int = EVIDENCE_MAX_SIDE) -> tuple[np.ndarray, float]:
    """``image`` at most ``max_side`` pixels wide and high, and the scale applied."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return image, 1.0
    cv2 = require_cv2()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), scale


def decode_jpeg(data: bytes) -> np.ndarray:
    cv2 = require_cv2()
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def write_evidence(
    folder: Path,
    stem: str,
    frames: list[TrackedFrame],
    person_scores: dict[int, float],
    threshold: float | None,
    fps: float,
    layout: str,
    snapshot_time_s: float,
) -> tuple[str, str]:
    """Write ``<stem>.mp4`` and ``<stem>.jpg`` into ``folder``; returns their file names.

    ``person_scores`` maps track ids to the alert's peak score for that person (drawn as its
    label, red at or above ``threshold``); the snapshot is the frame nearest ``snapshot_time_s``.
    """
    make_folder(folder)
    images = [decode_jpeg(f.jpeg) for f in frames]
    h, w = images[0].shape[:2]
    clip = clip_from_frames(
        [(f.ids, f.keypoints, f.scores) for f in frames], frames[0].keypoints.shape[1],
        1, layout=layout, fps=fps, img_shape=(h, w), source=stem, start_frame=frames[0].index,
    )  # fmt: skip
    if clip is not None:
        ids = clip.track_ids if clip.track_ids is not None else np.arange(clip.num_persons)
        scores = np.array([person_scores.get(int(t), np.nan) for t in ids], np.float64)
        for t, img in enumerate(images):
            draw_frame(img, clip, t, scores, threshold, caption=f"{frames[t].time_s:6.1f} s")

    def write_clip(tmp: Path) -> None:
        with H264Writer(tmp, fps, (h, w)) as writer:
            for img in images:
                writer.write(img)

    clip_name, snap_name = f"{stem}.mp4", f"{stem}.jpg"
    write_with(folder / clip_name, write_clip, suffix=".mp4")
    nearest = int(np.argmin([abs(f.time_s - snapshot_time_s) for f in frames]))
    write_bytes_atomic(folder / snap_name, encode_jpeg(images[nearest]))
    return clip_name, snap_name
