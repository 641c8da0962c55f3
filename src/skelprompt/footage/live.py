"""Live sources (webcams, URLs, or a file paced as a camera): a window scored every stride
(:class:`~skelprompt.footage.pipeline.FootageLoop`), alerts printed as they happen, one JSON
line per window."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skelprompt.footage.pipeline import FootageLoop
from skelprompt.footage.results import WindowScore, finite_json
from skelprompt.footage.scoring import ClipScorer, score_windows
from skelprompt.footage.sources import FootageSettings
from skelprompt.footage.windows import Window

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from skelprompt.detector import Scores

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
    from skelprompt.video.pose import get_backend
    from skelprompt.video.stream import FrameStream

    out = open(jsonl, "a", encoding="utf-8") if jsonl else None  # noqa: SIM115 - appended live
    n_windows = n_alerts = 0
    frames_scored = 0
    started = time.perf_counter()

    def count_frame(_: object) -> None:
        nonlocal frames_scored
        frames_scored += 1

    def score(windows: list[Window]) -> tuple[list[WindowScore], Scores | None]:
        return score_windows(detector, windows, prompts, normal_prompts, false_alarm_rate)

    try:
        with FrameStream(source, maxsize=queue_size, realtime=realtime, max_frames=max_frames) as stream:
            loop = FootageLoop(
                get_backend(settings.pose_backend, input_size=settings.pose_input_size), stream.fps,
                settings.window_length_s, settings.window_stride_s, source=str(stream.reader.name),
                img_shape=stream.size, on_frame=count_frame,
            )  # fmt: skip
            for scored in loop.scored_windows(stream, score):
                w = scored.row
                n_windows += 1
                if w.is_anomaly:
                    n_alerts += 1
                    who = [p.track_id for p in w.persons if p.is_anomaly]
                    echo(f"ALERT {w.start_s:.1f}-{w.end_s:.1f}s anomaly {w.anomaly:.2f} persons {who}")
                if out:
                    line = {
                        **asdict(w),
                        "dropped_frames": stream.dropped,
                        "threshold": scored.scores.threshold,
                    }
                    out.write(json.dumps(finite_json(line), allow_nan=False) + "\n")
                    out.flush()
        dropped = stream.dropped  # read at the end: frames dropped after the last window count too
    finally:
        if out:
            out.close()
    seconds = round(time.perf_counter() - started, 2)
    return LiveSummary(source, n_windows, n_alerts, dropped, seconds, stream.produced, frames_scored)


def stderr_echo(msg: str) -> None:
    """A progress line through logging (the CLI shows it on stderr)."""
    log.info(msg)
