"""Video files in: normal footage to fit a detector on, and videos scored (when and who),
optionally drawn as a video and a score plot."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.footage.pipeline import FootageLoop, TrackedPeople
from skelprompt.footage.results import VideoResult
from skelprompt.footage.scoring import ClipScorer, person_frame_scores, scene_frame_scores
from skelprompt.footage.sources import FootageSettings, extract
from skelprompt.footage.windows import FALLBACK_FPS, normal_windows

if TYPE_CHECKING:
    from skelprompt.video.pose import PoseBackend

MAX_FALSE_ALARM_RATE = 0.5


def false_alarm_rate_per_hour(per_hour: float, stride_s: float) -> float:
    """The per-window false-alarm rate that gives ``per_hour`` alarms per hour of footage."""
    windows_per_hour = 3600.0 / stride_s
    return min(MAX_FALSE_ALARM_RATE, per_hour / windows_per_hour)


@dataclass
class NormalFootage:
    """Normal videos made ready to fit a detector on."""

    clips: list[Clip]  # whole and per-person windows
    info: dict[str, Any]  # the footage settings and amount, for the detector's info
    false_alarm_rate: float  # per window, from the alarms per hour allowed


def normal_footage(
    videos: list[str], settings: FootageSettings, false_alarms_per_hour: float
) -> NormalFootage:
    """Pose, tracking and windows over normal ``videos``; the threshold is set so that
    ``false_alarms_per_hour`` alarms are allowed on footage like it."""
    footage = [extract(v, settings) for v in videos]
    clips = normal_windows(footage, settings.window_length_s, settings.window_stride_s)
    seconds = sum(c.num_frames / (c.fps or FALLBACK_FPS) for c in footage)
    info = {
        **asdict(settings),
        "normal_footage_s": round(seconds, 1),
        "false_alarms_per_hour": false_alarms_per_hour,
    }
    rate = false_alarm_rate_per_hour(false_alarms_per_hour, settings.window_stride_s)
    return NormalFootage(clips, info, rate)


def score_video(
    detector: ClipScorer,
    video: str,
    settings: FootageSettings,
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    false_alarm_rate: float | None = None,
    render: Path | None = None,
    plot: Path | None = None,
    backend: PoseBackend | None = None,
    progress: bool = True,
) -> VideoResult:
    """Pose, tracking, windows and scores for one video file (the offline
    :class:`~skelprompt.footage.pipeline.FootageLoop`); with ``render`` and ``plot``, also the
    video with the scores drawn and the score over time. ``backend``: a pose model already
    loaded (default: the one ``settings`` name)."""
    from skelprompt.video.pose import get_backend

    if backend is None:
        backend = get_backend(settings.pose_backend, input_size=settings.pose_input_size)
    loop: FootageLoop[TrackedPeople] = FootageLoop(
        backend, None, settings.window_length_s, settings.window_stride_s
    )
    clip, result = loop.video_result(video, detector, prompts, normal_prompts, false_alarm_rate, progress)
    render_outputs(video, clip, result, render, plot)
    return result


def render_outputs(
    video: str, clip: Clip, result: VideoResult, render: Path | None, plot: Path | None
) -> None:
    """Write the video with scores drawn (``render``) and the score plot (``plot``)."""
    if render is not None:
        from skelprompt.video.render import render_video

        render_video(
            video, clip, render, person_frame_scores(clip, result), result.threshold, progress=True,
            scene_scores=scene_frame_scores(clip, result),
        )  # fmt: skip
    if plot is not None:
        from skelprompt.video.plot import plot_scores

        rows = [w for w in result.windows if w.anomaly is not None]
        times = [(w.start_s + w.end_s) / 2 for w in rows]
        scene = [w.anomaly for w in rows]
        worst = [max([p.anomaly for p in w.persons], default=w.anomaly) for w in rows]
        spans = [(s.start_s, s.end_s) for s in result.alert_spans]
        plot_scores(
            times, np.array([scene, worst]), result.threshold, spans, plot,
            title=f"{Path(video).name}: anomaly per window", labels=["whole scene", "most anomalous person"],
        )  # fmt: skip
