"""Footage in, alerts out: video files and live streams through pose, tracking, windows and
the detector. The CLI's ``fit`` and ``score`` call these for video and stream inputs."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.timeline import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S, cut_windows, score_windows

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def is_stream(source: str) -> bool:
    """A webcam index or a network URL."""
    return source.isdigit() or source.split("://", 1)[0].lower() in (
        "rtsp",
        "rtmp",
        "http",
        "https",
        "udp",
        "tcp",
    )


def is_video(path: str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def expand_videos(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        q = Path(p)
        if q.is_dir():
            out.extend(str(f) for f in sorted(q.rglob("*")) if f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def extract(video: str, input_size: int, progress: bool = True) -> Clip:
    from skelprompt.video.extract import extract_clip

    return extract_clip(video, input_size=input_size, progress=progress)


def false_alarm_rate_per_hour(per_hour: float, stride_s: float) -> float:
    """The per-window false-alarm rate that gives ``per_hour`` alarms per hour of footage."""
    windows_per_hour = 3600.0 / stride_s
    return min(0.5, per_hour / windows_per_hour)


def person_frame_scores(clip: Clip, result: dict[str, Any]) -> np.ndarray:
    """[M, T] anomaly per person and frame: the maximum over the windows covering the frame."""
    ids = list(clip.track_ids) if clip.track_ids is not None else list(range(clip.num_persons))
    row = {int(t): m for m, t in enumerate(ids)}
    out = np.full((clip.num_persons, clip.num_frames), np.nan)
    for w in result["windows"]:
        for p in w["persons"]:
            m = row.get(p["track_id"])
            if m is None:
                continue
            seg = out[m, w["start_frame"] : w["end_frame"]]
            out[m, w["start_frame"] : w["end_frame"]] = np.fmax(seg, p["anomaly"])
    return out


def score_video_clip(
    detector: Any,
    clip: Clip,
    prompts: list[str] | None,
    normal_prompts: list[str] | None,
    length_s: float,
    stride_s: float,
    false_alarm_rate: float | None = None,
) -> dict[str, Any]:
    windows = cut_windows(clip, length_s, stride_s)
    result = score_windows(detector, windows, prompts, normal_prompts, false_alarm_rate)
    result.update(source=clip.source, fps=clip.fps, frames=clip.num_frames, persons=clip.num_persons)
    result["window_length_s"], result["window_stride_s"] = length_s, stride_s
    return result


def render_outputs(
    video: str, clip: Clip, result: dict[str, Any], render: Path | None, plot: Path | None
) -> None:
    if render is not None:
        from skelprompt.video.render import render_video

        render_video(
            video, clip, render, person_frame_scores(clip, result), result["threshold"], progress=True
        )
    if plot is not None:
        from skelprompt.video.plot import plot_scores

        rows = [w for w in result["windows"] if w["anomaly"] is not None]
        times = [(w["start_s"] + w["end_s"]) / 2 for w in rows]
        scene = [w["anomaly"] for w in rows]
        worst = [max([p["anomaly"] for p in w["persons"]], default=w["anomaly"]) for w in rows]
        spans = [(s["start_s"], s["end_s"]) for s in result["alert_spans"]]
        plot_scores(
            times, np.array([scene, worst]), result["threshold"], spans, plot,
            title=f"{Path(video).name}: anomaly per window", labels=["whole scene", "most anomalous person"],
        )  # fmt: skip


def live_windows(
    source: str,
    input_size: int,
    length_s: float,
    stride_s: float,
    max_frames: int | None = None,
    queue_size: int = 8,
    realtime: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> Iterator[tuple[Clip, Any]]:
    """Yield a window clip every ``stride_s`` seconds from a live source, keeping only the
    last ``length_s`` seconds of poses (bounded memory). The stream object is yielded too so
    callers can read its drop count."""
    from skelprompt.video.extract import iter_tracked
    from skelprompt.video.pose import MoveNetMultiPose
    from skelprompt.video.stream import FrameStream
    from skelprompt.video.tracking import assemble_tracks

    backend = MoveNetMultiPose(input_size=input_size)
    with FrameStream(source, maxsize=queue_size, realtime=realtime, max_frames=max_frames) as stream:
        fps = stream.fps or 25.0
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
            built = assemble_tracks([(i, k, s) for _, i, k, s in buf], 17, 1)
            if built is None:
                continue
            kp, sc, keep = built
            clip = Clip.create(
                kp, sc, layout=backend.layout, fps=fps, img_shape=(h, w), source=str(source), track_ids=keep,
                start_frame=buf[0][0],
            )  # fmt: skip
            yield clip, stream


def score_live(
    detector: Any,
    source: str,
    prompts: list[str] | None,
    normal_prompts: list[str] | None,
    input_size: int,
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    jsonl: Path | None = None,
    max_frames: int | None = None,
    realtime: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Score a live source window by window, printing alerts as they happen and appending
    one JSON line per window to ``jsonl``. Returns a summary (windows, alerts, drops)."""
    out = open(jsonl, "a", encoding="utf-8") if jsonl else None  # noqa: SIM115 - appended live
    n_windows = n_alerts = 0
    dropped = 0
    started = time.perf_counter()
    try:
        for clip, stream in live_windows(
            source, input_size, length_s, stride_s, max_frames, realtime=realtime
        ):
            res = score_windows(detector, cut_windows(clip, length_s=1e9), prompts, normal_prompts)
            if not res["windows"]:
                continue
            w = res["windows"][0]
            fps = clip.fps or 25.0
            w["start_frame"], w["end_frame"] = clip.start_frame, clip.start_frame + clip.num_frames
            w["start_s"], w["end_s"] = w["start_frame"] / fps, w["end_frame"] / fps
            w["dropped_frames"] = dropped = stream.dropped
            w["threshold"] = res["threshold"]
            n_windows += 1
            if w["is_anomaly"]:
                n_alerts += 1
                who = [p["track_id"] for p in w["persons"] if p["is_anomaly"]]
                echo(f"ALERT {w['start_s']:.1f}-{w['end_s']:.1f}s anomaly {w['anomaly']:.2f} persons {who}")
            if out:
                out.write(json.dumps(w) + "\n")
                out.flush()
    finally:
        if out:
            out.close()
    return {
        "source": source,
        "windows": n_windows,
        "alerts": n_alerts,
        "dropped_frames": dropped,
        "seconds": round(time.perf_counter() - started, 2),
    }


def stderr_echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
