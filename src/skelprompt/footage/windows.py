"""When and who: cut a clip's timeline into windows and each window into its persons.

Windows are cut in seconds (``length_s``, ``stride_s``) using the clip's fps, so the same
defaults suit 10-30 fps footage. A person's window holds only that person; persons with no
visible joint in a window are left out of it. The detector for footage is fitted on both
whole windows and per-person windows of normal footage (``normal_windows``), so both kinds
are compared with their own kind of normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError

DEFAULT_LENGTH_S = 2.0
DEFAULT_STRIDE_S = 0.5
FALLBACK_FPS = 25.0  # for footage whose frame rate is unknown
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
    return [_window(clip, s, e, f) for s, e in window_bounds(clip.num_frames, f, length_s, stride_s)]


def whole_window(clip: Clip, fps: float | None = None) -> Window:
    """One window over all of ``clip`` (a live window, tracked as a clip of its own)."""
    return _window(clip, 0, clip.num_frames, _fps(clip, fps))


def _window(clip: Clip, s: int, e: int, fps: float) -> Window:
    """The window over frames [s, e) of ``clip``, with the persons visible enough in it."""
    ids = clip.track_ids if clip.track_ids is not None else np.arange(clip.num_persons)
    sub = clip.frames(s, e)
    visible_frames = (sub.keypoint_score > 0).any(-1).mean(-1)  # [M]
    keep = np.flatnonzero(visible_frames >= MIN_VISIBLE_FRAMES)
    whole = sub.persons(keep) if keep.size else None
    persons = [(int(ids[m]), sub.persons([m])) for m in keep.tolist()]
    return Window(s, e, (clip.start_frame + s) / fps, (clip.start_frame + e) / fps, whole, persons)


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
    """[x0, y0, x1, y1] of the visible joints of a one-person clip, in the clip's pixels
    (image coordinates: x right, y down), rounded to 0.1 pixel."""
    v = clip.keypoint_score[0] > 0
    pts = clip.keypoint[0][v]
    lo, hi = pts.min(0), pts.max(0)
    return [round(float(x), 1) for x in (lo[0], lo[1], hi[0], hi[1])]
