"""Draw skeletons, track ids and scores on a video and write it as H.264 that browsers play.

What a rendered frame shows:

- every tracked person's skeleton in a colour of its own (one per track id), labelled
  ``#id`` or ``#id score``: the track id (``track_id`` in the JSON results) and the person's
  anomaly score at this frame (``skelprompt score``: the highest score of the windows that
  cover the frame; higher = less like the normal footage; no number = not scored here);
- a person whose score is at least the threshold in red, thicker, inside a red box: the
  pixel box ``x0, y0, x1, y1`` (x right, y down, rounded to whole pixels) of the
  person's visible joints, padded by 4 pixels at 360 lines of height;
- top left, the time in the video, followed by ``ALERT`` when a person alerts;
- a red bar across the top when the whole scene alerts (its score per frame is given):
  ``ALERT: scene anomaly 1.234 >= threshold 0.800``;
- along the bottom, a legend that says what the numbers and colours mean.

:func:`render_video` re-reads the source video, draws frame ``t`` of the clip on source frame
``clip.start_frame + t`` and writes an MP4 (H.264, yuv420p, index first; see
:mod:`skelprompt.video.writer`) atomically: to a temporary file in the output's folder,
renamed onto ``out_path`` only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.io.atomic import atomic_path
from skelprompt.layouts import get_layout
from skelprompt.video.reader import VideoSource, open_video, require_cv2
from skelprompt.video.writer import H264Writer

ALERT_BGR = (0, 0, 255)
BANNER_BGR = (0, 0, 220)  # the scene-alert bar: red, white text on it
WHITE = (255, 255, 255)
# Distinct non-red colours (BGR) for ordinary tracks.
PALETTE = [
    (255, 170, 0), (0, 200, 0), (255, 0, 170), (0, 200, 255), (200, 200, 0),
    (170, 85, 255), (0, 255, 170), (255, 255, 255), (120, 160, 0), (255, 120, 120),
]  # fmt: skip
FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX, without importing OpenCV at module load


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


def _per_frame(values: np.ndarray | None, t: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    v = np.asarray(values, np.float64)
    if v.shape != (t,):
        raise SkelpromptError(f"{name} must have shape [T] = [{t}], got {v.shape}")
    return v


def legend_lines(scored: bool, threshold: float | None, scene: bool) -> list[str]:
    """The legend's lines for a frame with person scores / a threshold / scene scores."""
    if not scored:
        return ["#7 = track id 7 (one colour per track)"]
    lines = ["#7 0.42 = track id 7 and its anomaly score here (higher = less like normal)"]
    if threshold is not None:
        lines.append(f"red + box = score >= threshold {threshold:.3f}; other colours: one per track")
    if scene and threshold is not None:
        lines.append("red bar on top = the whole scene's anomaly >= threshold")
    return lines


class _Style:
    """Line widths and font sizes scaled to the frame (the defaults suit 360 lines)."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.unit = max(1.0, min(h, w) / 360.0)
        self.line = max(1, round(1.5 * self.unit))
        self.font = 0.45 * self.unit
        self.text = max(1, self.line // 2 + 1)  # text stroke


def _draw_person(
    cv2: Any, image: np.ndarray, kp: np.ndarray, vis: np.ndarray, edges: list[tuple[int, int]],
    color: tuple[int, int, int], alert: bool, st: _Style,
) -> tuple[float, float, float]:  # fmt: skip
    """Skeleton (and the alert box); returns the label anchor ``(x0, y0, pad)``."""
    thick = st.line * 2 if alert else st.line
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
    pad = 4 * st.unit
    if alert:
        box = (round(x0 - pad), round(y0 - pad)), (round(x1 + pad), round(y1 + pad))
        cv2.rectangle(image, box[0], box[1], ALERT_BGR, st.line, cv2.LINE_AA)
    return float(x0), float(y0), pad


def _draw_label(
    cv2: Any, image: np.ndarray, label: str, anchor: tuple[float, float, float],
    color: tuple[int, int, int], placed: list[tuple[int, int, int, int]], st: _Style,
    bars: tuple[int, int, int],
) -> None:  # fmt: skip
    """The ``#id score`` label above the person, lifted clear of labels already ``placed``
    but kept below the bars at the top (``bars``: banner bottom, caption right, caption bottom)."""
    x0, y0, pad = anchor
    (tw, th), base = cv2.getTextSize(label, FONT, st.font, st.text)
    lx = int(np.clip(x0, 0, max(0, st.w - tw - 2)))
    floor = (bars[2] if lx < bars[1] else bars[0]) + th + 2  # the highest baseline allowed
    ly = int(np.clip(y0 - pad - 2, min(floor, st.h - 2), st.h - 2))
    for _ in range(len(placed)):  # lift the label above any label it would overlap
        hit = [r for r in placed if lx < r[2] and lx + tw > r[0] and ly - th - 2 < r[3] and ly + base > r[1]]
        if not hit or ly <= floor:
            break
        ly = max(floor, min(r[1] for r in hit) - base - 1)
    placed.append((lx - 1, ly - th - 2, lx + tw + 1, ly + base))
    cv2.rectangle(image, (lx - 1, ly - th - 2), (lx + tw + 1, ly + base), (0, 0, 0), -1)
    cv2.putText(image, label, (lx, ly), FONT, st.font, color, st.text, cv2.LINE_AA)


def _draw_banner(cv2: Any, image: np.ndarray, text: str, st: _Style) -> int:
    """A red bar across the top with ``text`` in white; returns its height."""
    scale = st.font * 1.3
    (tw, th), base = cv2.getTextSize(text, FONT, scale, st.line)
    if tw > st.w - 12:  # narrow frame: shrink the text to fit
        scale *= (st.w - 12) / tw
        (tw, th), base = cv2.getTextSize(text, FONT, scale, st.line)
    height = th + base + 12
    cv2.rectangle(image, (0, 0), (st.w - 1, height), BANNER_BGR, -1)
    cv2.putText(image, text, (6, th + 6), FONT, scale, WHITE, st.line, cv2.LINE_AA)
    return height + 1


def _draw_caption(
    cv2: Any, image: np.ndarray, text: str, top: int, alert: bool, st: _Style
) -> tuple[int, int]:
    """``text`` on black at the top left, from row ``top``; returns its right and bottom edges."""
    (tw, th), base = cv2.getTextSize(text, FONT, st.font * 1.2, st.line)
    cv2.rectangle(image, (0, top), (tw + 8, top + th + base + 8), (0, 0, 0), -1)
    color = ALERT_BGR if alert else WHITE
    cv2.putText(image, text, (4, top + th + 4), FONT, st.font * 1.2, color, st.line, cv2.LINE_AA)
    return tw + 9, top + th + base + 9


def _draw_legend(cv2: Any, image: np.ndarray, lines: list[str], st: _Style) -> None:
    """The legend's lines, white on a darkened strip along the bottom."""
    scale = st.font * 0.9
    widest = max(cv2.getTextSize(s, FONT, scale, 1)[0][0] for s in lines)
    if widest > st.w - 8:
        scale *= (st.w - 8) / widest
    th = cv2.getTextSize("Ag", FONT, scale, 1)[0][1]
    step = th + max(3, round(5 * scale))
    top = st.h - step * len(lines) - 4
    strip = image[max(0, top) :]
    strip[:] = (strip * 0.35).astype(image.dtype)  # darken, keeping the scene visible
    for i, s in enumerate(lines):
        cv2.putText(image, s, (4, top + (i + 1) * step - 2), FONT, scale, WHITE, 1, cv2.LINE_AA)


def draw_frame(
    image: np.ndarray,
    clip: Clip,
    t: int,
    person_scores: np.ndarray | None = None,
    threshold: float | None = None,
    joint_threshold: float = 0.2,
    caption: str | None = None,
    scene_score: float | None = None,
    legend: bool = True,
) -> np.ndarray:
    """Draw frame ``t`` of ``clip`` onto ``image`` (in place; also returned).

    ``person_scores`` is ``[M]`` or ``[M, T]`` (NaN = no score); a person whose score is at
    least ``threshold`` is drawn in red with a thicker outline and a box. ``scene_score`` is
    the whole scene's score at this frame: at least ``threshold`` draws the red alert bar.
    """
    cv2 = require_cv2()
    st = _Style(*image.shape[:2])
    edges = skeleton_edges(clip.layout)
    scores = _per_person_frame(person_scores, clip.num_persons, clip.num_frames, "person_scores")
    any_alert = False
    labels: list[tuple[str, tuple[float, float, float], tuple[int, int, int]]] = []
    for m in range(clip.num_persons):
        vis = clip.keypoint_score[m, t] >= joint_threshold
        if not vis.any():
            continue
        tid = int(clip.track_ids[m]) if clip.track_ids is not None else m
        s = None if scores is None or not np.isfinite(scores[m, t]) else float(scores[m, t])
        alert = s is not None and threshold is not None and s >= threshold
        any_alert |= alert
        color = ALERT_BGR if alert else PALETTE[tid % len(PALETTE)]
        anchor = _draw_person(cv2, image, clip.keypoint[m, t], vis, edges, color, alert, st)
        labels.append((f"#{tid}" if s is None else f"#{tid} {s:.2f}", anchor, color))
    banner = caption_right = caption_bottom = 0
    if scene_score is not None and threshold is not None and scene_score >= threshold:  # NaN: False
        text = f"ALERT: scene anomaly {scene_score:.3f} >= threshold {threshold:.3f}"
        banner = caption_bottom = _draw_banner(cv2, image, text, st)
    if caption or any_alert:
        text = ((caption or "") + ("  ALERT" if any_alert else "")).strip()
        caption_right, caption_bottom = _draw_caption(cv2, image, text, banner, any_alert, st)
    placed: list[tuple[int, int, int, int]] = []  # label boxes already drawn (x0, y0, x1, y1)
    for label, anchor, color in labels:
        _draw_label(cv2, image, label, anchor, color, placed, st, (banner, caption_right, caption_bottom))
    if legend:
        lines = legend_lines(scores is not None, threshold, scene_score is not None)
        _draw_legend(cv2, image, lines, st)
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
    scene_scores: np.ndarray | None = None,
) -> Path:
    """Write ``out_path`` (MP4, H.264): the video with the clip's skeletons drawn on it.

    Writes the frames the clip covers (``clip.start_frame`` to ``+ clip.num_frames``).
    ``person_scores`` ``[M]`` or ``[M, T]`` labels each person; at or above ``threshold``
    the person is drawn in red. ``scene_scores`` ``[T]`` is the whole scene's score per
    frame (NaN = none); at or above ``threshold`` the frame gets the red alert bar.
    Returns the output path.
    """
    clip.validate()
    _per_person_frame(person_scores, clip.num_persons, clip.num_frames, "person_scores")
    scene = _per_frame(scene_scores, clip.num_frames, "scene_scores")
    out = Path(out_path)
    end = clip.start_frame + clip.num_frames
    with open_video(video_path, max_frames=end) as reader:
        h, w = reader.size
        if clip.img_shape is not None and tuple(clip.img_shape) != (h, w):
            raise SkelpromptError(
                f"{reader.name}: video is {w}x{h} but the clip was made on {clip.img_shape[1]}x{clip.img_shape[0]}"
            )
        rate = fps or reader.fps or clip.fps or 25.0
        with atomic_path(out, suffix=".mp4") as tmp, H264Writer(tmp, rate, (h, w)) as writer:
            bar = tqdm(total=clip.num_frames, desc="render", unit="frame", disable=not progress)
            for frame in reader:
                t = frame.index - clip.start_frame
                if t < 0:
                    continue
                img = draw_frame(
                    frame.image, clip, t, person_scores, threshold, joint_threshold,
                    caption=f"{frame.time:6.1f} s", scene_score=None if scene is None else float(scene[t]),
                )  # fmt: skip
                writer.write(img)
                bar.update(1)
            bar.close()
            if writer.frames == 0:
                raise SkelpromptError(f"{reader.name}: no frame of the clip lies in the video")
    return out
