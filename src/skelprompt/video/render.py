"""Draw skeletons, track ids and per-person scores on a video; alerts in red.

:func:`render_video` re-reads the source video, draws frame ``t`` of the clip on source
frame ``clip.start_frame + t`` and writes an MP4 (``mp4v``) atomically: it renders to a
temporary file in the output's folder and renames it onto ``out_path`` only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.io.atomic import atomic_path
from skelprompt.layouts import get_layout
from skelprompt.video.reader import VideoSource, open_video, require_cv2

ALERT_BGR = (0, 0, 255)
# Distinct non-red colours (BGR) for ordinary tracks.
PALETTE = [
    (255, 170, 0), (0, 200, 0), (255, 0, 170), (0, 200, 255), (200, 200, 0),
    (170, 85, 255), (0, 255, 170), (255, 255, 255), (120, 160, 0), (255, 120, 120),
]  # fmt: skip


def skeleton_edges(layout: str) -> list[tuple[int, int]]:
    """Bone list of ``layout`` (by joint name; joints the layout lacks are skipped)."""
    lay = get_layout(layout)
    names = [
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ("neck", "nose"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
    ]  # fmt: skip
    pos = {n: i for i, n in enumerate(lay.joints)}
    return [(pos[a], pos[b]) for a, b in names if a in pos and b in pos]


def _per_person_frame(values: np.ndarray | None, m: int, t: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    v = np.asarray(values, np.float64)
    if v.ndim == 1 and v.shape[0] == m:
        return np.repeat(v[:, None], t, axis=1)
    if v.shape == (m, t):
        return v
    raise SkelpromptError(f"{name} must have shape [M] = [{m}] or [M, T] = [{m}, {t}], got {v.shape}")


def draw_frame(
    image: np.ndarray,
    clip: Clip,
    t: int,
    person_scores: np.ndarray | None = None,
    threshold: float | None = None,
    joint_threshold: float = 0.2,
    caption: str | None = None,
) -> np.ndarray:
    """Draw frame ``t`` of ``clip`` onto ``image`` (in place; also returned).

    ``person_scores`` is ``[M]`` or ``[M, T]`` (NaN = no score); a person whose score is at
    least ``threshold`` is drawn in red with a thicker outline.
    """
    cv2 = require_cv2()
    h, w = image.shape[:2]
    unit = max(1.0, min(h, w) / 360.0)
    line = max(1, round(1.5 * unit))
    font = 0.45 * unit
    edges = skeleton_edges(clip.layout)
    scores = _per_person_frame(person_scores, clip.num_persons, clip.num_frames, "person_scores")
    any_alert = False
    placed: list[tuple[int, int, int, int]] = []  # label boxes already drawn (x0, y0, x1, y1)
    for m in range(clip.num_persons):
        sc = clip.keypoint_score[m, t]
        vis = sc >= joint_threshold
        if not vis.any():
            continue
        kp = clip.keypoint[m, t]
        tid = int(clip.track_ids[m]) if clip.track_ids is not None else m
        s = None if scores is None or not np.isfinite(scores[m, t]) else float(scores[m, t])
        alert = s is not None and threshold is not None and s >= threshold
        any_alert |= alert
        color = ALERT_BGR if alert else PALETTE[tid % len(PALETTE)]
        thick = line * 2 if alert else line
        for a, b in edges:
            if vis[a] and vis[b]:
                pa = (int(round(kp[a, 0])), int(round(kp[a, 1])))
                pb = (int(round(kp[b, 0])), int(round(kp[b, 1])))
                cv2.line(image, pa, pb, color, thick, cv2.LINE_AA)
        for v in np.flatnonzero(vis):
            cv2.circle(image, (int(round(kp[v, 0])), int(round(kp[v, 1]))), thick + 1, color, -1, cv2.LINE_AA)
        pts = kp[vis]
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        pad = 4 * unit
        if alert:
            cv2.rectangle(
                image,
                (int(x0 - pad), int(y0 - pad)),
                (int(x1 + pad), int(y1 + pad)),
                ALERT_BGR,
                line,
                cv2.LINE_AA,
            )
        label = f"#{tid}" if s is None else f"#{tid} {s:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, max(1, line // 2 + 1))
        lx = int(np.clip(x0, 0, max(0, w - tw - 2)))
        ly = int(np.clip(y0 - pad - 2, th + 2, h - 2))
        for _ in range(len(placed)):  # lift the label above any label it would overlap
            hit = [
                r for r in placed if lx < r[2] and lx + tw > r[0] and ly - th - 2 < r[3] and ly + base > r[1]
            ]
            if not hit or ly - th - 2 <= 0:
                break
            ly = max(th + 2, min(r[1] for r in hit) - base - 1)
        placed.append((lx - 1, ly - th - 2, lx + tw + 1, ly + base))
        cv2.rectangle(image, (lx - 1, ly - th - 2), (lx + tw + 1, ly + base), (0, 0, 0), -1)
        cv2.putText(
            image, label, (lx, ly), cv2.FONT_HERSHEY_SIMPLEX, font, color, max(1, line // 2 + 1), cv2.LINE_AA
        )
    if caption or any_alert:
        text = (caption or "") + ("  ALERT" if any_alert else "")
        text = text.strip()
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font * 1.2, max(1, line))
        cv2.rectangle(image, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
        cv2.putText(
            image,
            text,
            (4, th + 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            font * 1.2,
            ALERT_BGR if any_alert else (255, 255, 255),
            max(1, line),
            cv2.LINE_AA,
        )
    return image


def render_video(
    video_path: VideoSource,
    clip: Clip,
    out_path: str | os.PathLike[str],
    person_scores: np.ndarray | None = None,
    threshold: float | None = None,
    fps: float | None = None,
    progress: bool = False,
    joint_threshold: float = 0.2,
) -> Path:
    """Write ``out_path`` (MP4, ``mp4v``): the video with the clip's skeletons drawn on it.

    Writes the frames the clip covers (``clip.start_frame`` to ``+ clip.num_frames``).
    ``person_scores`` ``[M]`` or ``[M, T]`` labels each person; at or above ``threshold``
    the person is drawn in red. Returns the output path.
    """
    cv2 = require_cv2()
    clip.validate()
    _per_person_frame(person_scores, clip.num_persons, clip.num_frames, "person_scores")
    out = Path(out_path)
    end = clip.start_frame + clip.num_frames
    with open_video(video_path, max_frames=end) as reader:
        h, w = reader.size
        if clip.img_shape is not None and tuple(clip.img_shape) != (h, w):
            raise SkelpromptError(
                f"{reader.name}: video is {w}x{h} but the clip was made on {clip.img_shape[1]}x{clip.img_shape[0]}"
            )
        rate = fps or reader.fps or clip.fps or 25.0
        with atomic_path(out, suffix=out.suffix or ".mp4") as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(rate), (w, h))
            if not writer.isOpened():
                raise SkelpromptError(f"{out}: OpenCV cannot write an mp4v video here")
            written = 0
            try:
                bar = tqdm(total=clip.num_frames, desc="render", unit="frame", disable=not progress)
                for frame in reader:
                    t = frame.index - clip.start_frame
                    if t < 0:
                        continue
                    img = draw_frame(
                        frame.image,
                        clip,
                        t,
                        person_scores,
                        threshold,
                        joint_threshold,
                        caption=f"{frame.time:6.1f} s",
                    )
                    writer.write(img)
                    written += 1
                    bar.update(1)
                bar.close()
            finally:
                writer.release()
            if written == 0:
                raise SkelpromptError(f"{reader.name}: no frame of the clip lies in the video")
    return out
