"""Live sources (webcams, URLs, or a file paced as a camera): a window scored every stride,
alerts printed as they happen, one JSON line per window."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skelprompt.clip import Clip
from skelprompt.footage.results import WindowScore, finite_json
from skelprompt.footage.scoring import ClipScorer, score_windows
from skelprompt.footage.sources import DEFAULT_POSE_BACKEND, FootageSettings
from skelprompt.footage.video import FALLBACK_FPS
from skelprompt.footage.windows import cut_windows

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from skelprompt.video.stream import FrameStream

WHOLE_CLIP_S = 1e9  # a window length longer than any live window: one window over the whole clip
DEFAULT_QUEUE_SIZE = 8  # frames waiting for the pose model; the oldest is dropped when full


@dataclass
class LiveSummary:
    source: str
    windows: int
    alerts: int
    dropped_frames: int  # the stream's count at the end: frames skipped because scoring fell behind
    seconds: float
    frames_read: int = 0  # from the source; = frames_scored + dropped_frames
    frames_scored: int = 0  # through pose estimation and tracking


def live_windows(
    source: str,
    input_size: int,
    length_s: float,
    stride_s: float,
    max_frames: int | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    realtime: bool = False,
    on_frame: Callable[[], None] | None = None,
    pose_backend: str = DEFAULT_POSE_BACKEND,
) -> Iterator[tuple[Clip, FrameStream]]:
    """Yield a window clip every ``stride_s`` seconds from a live source, keeping only the
    last ``length_s`` seconds of poses (bounded memory). The stream object is yielded too so
    callers can read its drop count. See :func:`stream_windows` for the window's frames."""
    from skelprompt.video.stream import FrameStream

    with FrameStream(source, maxsize=queue_size, realtime=realtime, max_frames=max_frames) as stream:
        for clip in stream_windows(stream, input_size, length_s, stride_s, on_frame, pose_backend):
            yield clip, stream


def stream_windows(
    stream: FrameStream,
    input_size: int,
    length_s: float,
    stride_s: float,
    on_frame: Callable[[], None] | None = None,
    pose_backend: str = DEFAULT_POSE_BACKEND,
) -> Iterator[Clip]:
    """Window clips of ``stream``: one every ``stride_s`` seconds' worth of processed frames,
    each of the last ``length_s`` seconds' worth. When frames were dropped a window spans more
    of the source than that: its ``start_frame`` is the source index of its first frame and
    ``meta["end_frame"]`` one past the source index of its last (exclusive)."""
    from skelprompt.tracks import clip_from_frames
    from skelprompt.video.pose import get_backend
    from skelprompt.video.track_video import iter_tracked

    backend = get_backend(pose_backend, input_size=input_size)
    fps = stream.fps or FALLBACK_FPS
    length, stride = max(2, round(length_s * fps)), max(1, round(stride_s * fps))
    buf: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=length)
    since = 0
    h, w = stream.size
    for frame, det, ids in iter_tracked(stream, backend):
        buf.append((frame.index, ids, det.keypoints, det.scores))
        since += 1
        if on_frame:
            on_frame()
        if len(buf) < length or since < stride:  # score full windows only
            continue
        since = 0
        clip = clip_from_frames(
            [(i, k, s) for _, i, k, s in buf], 17, 1, layout=backend.layout, fps=fps, img_shape=(h, w),
            source=str(stream.reader.name), start_frame=buf[0][0], meta={"end_frame": buf[-1][0] + 1},
        )  # fmt: skip
        if clip is not None:
            yield clip


def score_live(
    detector: ClipScorer,
    source: str,
    settings: FootageSettings,
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    jsonl: Path | None = None,
    max_frames: int | None = None,
    realtime: bool = False,
    echo: Callable[[str], None] = print,
    false_alarm_rate: float | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> LiveSummary:
    """Score a live source window by window, printing alerts as they happen and appending
    one JSON line per window to ``jsonl``. Returns a summary (windows, alerts, drops)."""
    from skelprompt.video.stream import FrameStream

    out = open(jsonl, "a", encoding="utf-8") if jsonl else None  # noqa: SIM115 - appended live
    n_windows = n_alerts = 0
    frames_scored = 0
    started = time.perf_counter()

    def count_frame() -> None:
        nonlocal frames_scored
        frames_scored += 1

    try:
        with FrameStream(source, maxsize=queue_size, realtime=realtime, max_frames=max_frames) as stream:
            for clip in stream_windows(
                stream, settings.pose_input_size, settings.window_length_s, settings.window_stride_s,
                on_frame=count_frame, pose_backend=settings.pose_backend,
            ):  # fmt: skip
                rows, s = score_windows(
                    detector,
                    cut_windows(clip, length_s=WHOLE_CLIP_S),
                    prompts,
                    normal_prompts,
                    false_alarm_rate,
                )
                if not rows or s is None:
                    continue
                w = _on_source_timeline(rows[0], clip)
                n_windows += 1
                if w.is_anomaly:
                    n_alerts += 1
                    who = [p.track_id for p in w.persons if p.is_anomaly]
                    echo(f"ALERT {w.start_s:.1f}-{w.end_s:.1f}s anomaly {w.anomaly:.2f} persons {who}")
                if out:
                    line = {**asdict(w), "dropped_frames": stream.dropped, "threshold": s.threshold}
                    out.write(json.dumps(finite_json(line), allow_nan=False) + "\n")
                    out.flush()
        dropped = stream.dropped  # read at the end: frames dropped after the last window count too
    finally:
        if out:
            out.close()
    seconds = round(time.perf_counter() - started, 2)
    return LiveSummary(source, n_windows, n_alerts, dropped, seconds, stream.produced, frames_scored)


def _on_source_timeline(w: WindowScore, clip: Clip) -> WindowScore:
    """``w`` with the source's frame indices and times of its first and last frame."""
    fps = clip.fps or FALLBACK_FPS
    w.start_frame = clip.start_frame
    w.end_frame = int(clip.meta.get("end_frame", clip.start_frame + clip.num_frames))
    w.start_s, w.end_s = w.start_frame / fps, w.end_frame / fps
    return w


def stderr_echo(msg: str) -> None:
    """A progress line through logging (the CLI shows it on stderr)."""
    log.info(msg)
