"""Which windows a verdict on a scoring result is about: an alert span or a time range of a
scored video, or a clip of scored clip files, turned back into the clips the detector saw.

References (``REF``) are read against the result JSON ``skelprompt score --json`` wrote:

- a video: ``N`` or ``alert:N`` (the N-th alert span, 1-based, as the alert table lists them),
  or ``S-E`` (the windows lying within S..E seconds);
- clip files: ``N`` (the N-th clip, 1-based, in the results' order) or a clip's ``frame_dir``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.footage.results import ClipResult, VideoResult, WindowScore
from skelprompt.footage.windows import cut_windows

_ALERT = re.compile(r"(?:alert:)?([0-9]+)")
_RANGE = re.compile(r"([0-9]+(?:\.[0-9]*)?)-([0-9]+(?:\.[0-9]*)?)")


@dataclass
class Selection:
    """The windows a reference names: what to record about them and their clips."""

    ref: str
    about: dict[str, Any]
    clips: list[Clip]


def video_windows(result: VideoResult, ref: str) -> tuple[list[WindowScore], dict[str, Any]]:
    """The scored windows ``ref`` names in a video result, and where they lie."""
    if m := _RANGE.fullmatch(ref):
        start, end = float(m[1]), float(m[2])
        if end <= start:
            raise SkelpromptError(f"{ref}: the time range must end after it starts")
        what: dict[str, Any] = {"start_s": start, "end_s": end}
    elif m := _ALERT.fullmatch(ref):
        n = int(m[1])
        if not 1 <= n <= len(result.alert_spans):
            raise SkelpromptError(
                f"{ref}: the result has {len(result.alert_spans)} alert span(s), numbered from 1"
            )
        span = result.alert_spans[n - 1]
        start, end = span.start_s, span.end_s
        what = {"alert": n, "start_s": start, "end_s": end}
    else:
        raise SkelpromptError(f"{ref}: give an alert number (N or alert:N) or a time range S-E in seconds")
    rows = [
        w
        for w in result.windows
        if w.anomaly is not None and w.start_s >= start - 1e-6 and w.end_s <= end + 1e-6
    ]
    if not rows:
        raise SkelpromptError(f"{ref}: no scored window lies within {start:g}-{end:g} s")
    return rows, what


def video_selection(
    result: VideoResult, ref: str, tracked: Callable[[], Clip], results_name: str
) -> Selection:
    """The clips of the windows ``ref`` names: each window's whole scene and, with two or more
    persons in it, each person (as ``fit`` cuts normal footage); ``tracked`` gives the video's
    tracked clip (read once, by the caller)."""
    rows, what = video_windows(result, ref)
    clip = tracked()
    by_start = {w.start_frame: w for w in cut_windows(clip, result.window_length_s, result.window_stride_s)}
    clips: list[Clip] = []
    for r in rows:
        w = by_start.get(r.start_frame)
        if w is None or w.end_frame != r.end_frame:
            raise SkelpromptError(
                f"{result.source}: window {r.start_s:g}-{r.end_s:g} s is not in the video as read now; "
                "was it scored with other window settings or another video?"
            )
        if w.clip is not None:
            clips.append(w.clip)
        if len(w.persons) > 1:
            clips.extend(p for _, p in w.persons)
    about = {"results": results_name, "source": result.source or "", "ref": ref, **what}
    return Selection(ref, about, clips)


def clip_selection(result: ClipResult, ref: str, clips: list[Clip], results_name: str) -> Selection:
    """The clip ``ref`` names (1-based row or frame_dir) among ``clips``, read from the files
    the result names, in the result's order."""
    if len(clips) != len(result.clips):
        raise SkelpromptError(
            f"{results_name}: the result has {len(result.clips)} clips but its files now hold {len(clips)}"
        )
    if ref.isdigit():
        i = int(ref) - 1
        if not 0 <= i < len(clips):
            raise SkelpromptError(f"{ref}: the result has {len(clips)} clips, numbered from 1")
    else:
        found = [j for j, c in enumerate(result.clips) if c.frame_dir == ref]
        if len(found) != 1:
            raise SkelpromptError(f"{ref}: {'no' if not found else 'more than one'} clip has this frame_dir")
        i = found[0]
    row = result.clips[i]
    if clips[i].frame_dir != row.frame_dir:
        raise SkelpromptError(f"{row.source}: clip {i + 1} is not the clip that was scored ({row.frame_dir})")
    about = {
        "results": results_name,
        "source": row.source or "",
        "ref": ref,
        "clip": i + 1,
        "frame_dir": row.frame_dir or "",
    }
    return Selection(ref, about, [clips[i]])
