"""Footage in, alerts out: video files and live streams through pose, tracking, windows and
the detector, with typed results and one JSON form for them.

- :mod:`~skelprompt.footage.sources`: videos, streams, clip files; the footage settings
- :mod:`~skelprompt.footage.windows`: cutting a timeline into windows and persons
- :mod:`~skelprompt.footage.scoring`: clips and windows to scores
- :mod:`~skelprompt.footage.pipeline`: the pose -> track -> window -> score loop
- :mod:`~skelprompt.footage.video`: fitting on normal videos, scoring a video file
- :mod:`~skelprompt.footage.live`: scoring a live source as it plays
- :mod:`~skelprompt.footage.results`: the result types and their JSON
"""

from skelprompt.footage.live import LiveSummary, score_live
from skelprompt.footage.pipeline import FootageLoop, ScoredWindow, TrackedPeople
from skelprompt.footage.results import (
    AlertSpan,
    ClipResult,
    ClipScore,
    PersonScore,
    VideoResult,
    WindowScore,
    detector_checksum,
    finite_json,
    from_json,
    to_json,
)
from skelprompt.footage.scoring import (
    ClipScorer,
    alert_spans,
    person_frame_scores,
    score_clips,
    score_video_clip,
    score_windows,
)
from skelprompt.footage.sources import (
    DEFAULT_POSE_BACKEND,
    DEFAULT_POSE_INPUT_SIZE,
    VIDEO_SUFFIXES,
    FootageSettings,
    expand_videos,
    extract,
    is_stream,
    is_video,
    split_inputs,
)
from skelprompt.footage.video import NormalFootage, false_alarm_rate_per_hour, normal_footage, score_video
from skelprompt.footage.windows import (
    DEFAULT_LENGTH_S,
    DEFAULT_STRIDE_S,
    MIN_VISIBLE_FRAMES,
    Window,
    cut_windows,
    normal_windows,
    person_box,
    whole_window,
    window_bounds,
)

__all__ = [
    "AlertSpan", "ClipResult", "ClipScore", "ClipScorer", "DEFAULT_LENGTH_S", "DEFAULT_POSE_BACKEND",
    "DEFAULT_POSE_INPUT_SIZE", "DEFAULT_STRIDE_S", "FootageLoop", "FootageSettings", "LiveSummary", "MIN_VISIBLE_FRAMES",
    "NormalFootage", "PersonScore", "ScoredWindow", "TrackedPeople", "VIDEO_SUFFIXES", "VideoResult", "Window", "WindowScore", "alert_spans",
    "cut_windows", "detector_checksum", "expand_videos", "extract", "false_alarm_rate_per_hour", "from_json",
    "is_stream", "is_video", "normal_footage", "normal_windows", "person_box",
    "person_frame_scores", "score_clips", "score_live", "score_video", "score_video_clip", "score_windows",
    "split_inputs", "to_json", "whole_window", "window_bounds", "finite_json",
]  # fmt: skip
