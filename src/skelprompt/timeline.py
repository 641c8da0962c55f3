"""When and who: slide a window over a clip's timeline, score each window as a clip, and
score each tracked person's part of the window alone.

Windows are cut in seconds (``length_s``, ``stride_s``) using the clip's fps, so the same
defaults suit 10-30 fps footage. A person's window holds only that person; persons with no
visible joint in a window are left out of it. The detector for footage is fitted on both
whole windows and per-person windows of normal footage (``normal_windows``), so both kinds
are compared with their own kind of normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError

DEFAULT_LENGTH_S = 2.0
DEFAULT_STRIDE_S = 0.5
MIN_VISIBLE_FRAMES = 0.25  # a person must be visible in this fraction of a window's frames


@dataclass
class Window:
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    clip: Clip | None  # all visible persons (None when nobody is visible)
    persons: list[tuple[int, Clip]] = field(default_factory=list)  # (track id, one-person clip)


def _fps(clip: Clip, fps: float | None) -> float:
    f = fps or clip.fps
    if not f or f <= 0:
        raise ClipError(f"{clip.name}: the clip has no frame rate; give one (--fps)")
    return float(f)


def window_bounds(num_frames: int, fps: float, length_s: float, stride_s: float) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of windows of ``length_s`` every ``stride_s`` seconds.

    A clip shorter than one window gives one window over all of it; the last window is
    aligned to the end so no frame is left unscored.
    """
    length = max(2, int(round(length_s * fps)))
    stride = max(1, int(round(stride_s * fps)))
    if num_frames <= length:
        return [(0, num_frames)]
    starts = list(range(0, num_frames - length + 1, stride))
    if starts[-1] + length < num_frames:
        starts.append(num_frames - length)
    return [(s, s + length) for s in starts]


def cut_windows(
    clip: Clip,
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    fps: float | None = None,
) -> list[Window]:
    """Windows over ``clip`` with their all-person and per-person clips."""
    f = _fps(clip, fps)
    out = []
    ids = clip.track_ids if clip.track_ids is not None else np.arange(clip.num_persons)
    for s, e in window_bounds(clip.num_frames, f, length_s, stride_s):
        sub = clip.frames(s, e)
        visible_frames = (sub.keypoint_score > 0).any(-1).mean(-1)  # [M]
        keep = np.flatnonzero(visible_frames >= MIN_VISIBLE_FRAMES)
        whole = sub.persons(keep) if keep.size else None
        persons = [(int(ids[m]), sub.persons([m])) for m in keep]
        start_s = (clip.start_frame + s) / f
        out.append(Window(s, e, start_s, (clip.start_frame + e) / f, whole, persons))
    return out


def normal_windows(
    clips: list[Clip],
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    per_person: bool = True,
) -> list[Clip]:
    """The clips to fit a detector on from normal footage: whole windows and, with
    ``per_person``, each person's part of each window."""
    out: list[Clip] = []
    for c in clips:
        for w in cut_windows(c, length_s, stride_s):
            if w.clip is not None:
                out.append(w.clip)
            if per_person and len(w.persons) > 1:
                out.extend(p for _, p in w.persons)
    return out


def person_box(clip: Clip) -> list[float]:
    """[x0, y0, x1, y1] of the visible joints of a one-person clip."""
    v = clip.keypoint_score[0] > 0
    pts = clip.keypoint[0][v]
    lo, hi = pts.min(0), pts.max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


def score_windows(
    detector: Any,
    windows: list[Window],
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    false_alarm_rate: float | None = None,
) -> dict[str, Any]:
    """Score every window and every person in it in one batch; return a JSON-able dict."""
    whole = [(i, w.clip) for i, w in enumerate(windows) if w.clip is not None]
    persons = [(i, tid, p) for i, w in enumerate(windows) for tid, p in w.persons]
    batch = [c for _, c in whole] + [p for _, _, p in persons]
    if not batch:
        return {
            "windows": [],
            "video_score": None,
            "threshold": None,
            "note": "no person visible in any window",
        }
    s = detector.score(batch, prompts, normal_prompts, false_alarm_rate)
    rows: list[dict[str, Any]] = [
        {
            "start_frame": w.start_frame,
            "end_frame": w.end_frame,
            "start_s": round(w.start_s, 3),
            "end_s": round(w.end_s, 3),
            "anomaly": None,
            "ood": None,
            "prompt": None,
            "is_anomaly": False,
            "persons": [],
        }
        for w in windows
    ]
    for j, (i, _) in enumerate(whole):
        rows[i].update(
            anomaly=float(s.anomaly[j]),
            ood=float(s.ood[j]),
            prompt=float(s.prompt[j]),
            is_anomaly=bool(s.is_anomaly[j]),
        )
    off = len(whole)
    for j, (i, tid, p) in enumerate(persons):
        rows[i]["persons"].append(
            {
                "track_id": tid,
                "box": person_box(p),
                "anomaly": float(s.anomaly[off + j]),
                "ood": float(s.ood[off + j]),
                "prompt": float(s.prompt[off + j]),
                "is_anomaly": bool(s.is_anomaly[off + j]),
            }
        )
    for r in rows:
        r["persons"].sort(key=lambda p: -p["anomaly"])
        if r["persons"] and r["anomaly"] is not None:
            # a window alerts when the whole scene or any one person in it does
            r["is_anomaly"] = bool(r["is_anomaly"] or r["persons"][0]["is_anomaly"])
    scored = [r["anomaly"] for r in rows if r["anomaly"] is not None]
    return {
        "threshold": s.threshold,
        "prompts": s.prompts,
        "normal_prompts": s.normal_prompts,
        "video_score": max(scored) if scored else None,
        "alert_spans": alert_spans(rows),
        "windows": rows,
    }


def alert_spans(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge overlapping alerting windows into spans [start_s, end_s] with the persons involved."""
    spans: list[dict[str, Any]] = []
    for r in rows:
        if not r["is_anomaly"]:
            continue
        who = sorted({p["track_id"] for p in r["persons"] if p["is_anomaly"]})
        if spans and r["start_s"] <= spans[-1]["end_s"]:
            spans[-1]["end_s"] = max(spans[-1]["end_s"], r["end_s"])
            spans[-1]["peak"] = max(spans[-1]["peak"], r["anomaly"] or 0.0)
            spans[-1]["track_ids"] = sorted(set(spans[-1]["track_ids"]) | set(who))
        else:
            spans.append(
                {"start_s": r["start_s"], "end_s": r["end_s"], "peak": r["anomaly"] or 0.0, "track_ids": who}
            )
    return spans
