"""Footage inputs: telling videos, live streams and clip files apart, the settings footage is
read and cut with, and turning a video into a tracked clip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skelprompt.clip import Clip
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S
from skelprompt.video.pose import DEFAULT_INPUT_SIZE as DEFAULT_POSE_INPUT_SIZE
from skelprompt.video.pose import DEFAULT_POSE_BACKEND

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
STREAM_SCHEMES = ("rtsp", "rtmp", "http", "https", "udp", "tcp")


@dataclass(frozen=True)
class FootageSettings:
    """How footage is read (pose backend, input size) and cut (window length, stride).

    The field names are the keys under which ``skelprompt fit`` records them in a
    detector's info, so scoring reads footage the way the detector's normal footage was read.
    """

    window_length_s: float = DEFAULT_LENGTH_S
    window_stride_s: float = DEFAULT_STRIDE_S
    pose_input_size: int = DEFAULT_POSE_INPUT_SIZE
    pose_backend: str = DEFAULT_POSE_BACKEND

    @classmethod
    def of_detector(
        cls,
        info: Mapping[str, Any],
        window_length_s: float | None = None,
        window_stride_s: float | None = None,
        pose_input_size: int | None = None,
        pose_backend: str | None = None,
    ) -> FootageSettings:
        """The settings recorded in a detector's ``info``, each replaced by the one given."""
        d = cls()
        return cls(
            window_length_s=window_length_s or info.get("window_length_s", d.window_length_s),
            window_stride_s=window_stride_s or info.get("window_stride_s", d.window_stride_s),
            pose_input_size=pose_input_size or info.get("pose_input_size", d.pose_input_size),
            pose_backend=pose_backend or info.get("pose_backend", d.pose_backend),
        )


def is_stream(source: str) -> bool:
    """A webcam index or a network URL."""
    return source.isdigit() or source.split("://", 1)[0].lower() in STREAM_SCHEMES


def is_video(path: str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def expand_videos(paths: list[str]) -> list[str]:
    """The paths, each folder replaced by the videos under it (sorted)."""
    out: list[str] = []
    for p in paths:
        q = Path(p)
        if q.is_dir():
            out.extend(str(f) for f in sorted(q.rglob("*")) if f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def _has_clip_files(folder: str) -> bool:
    from skelprompt.io import CLIP_SUFFIXES

    return any(f.suffix.lower() in CLIP_SUFFIXES for f in Path(folder).rglob("*"))


def split_inputs(paths: list[str]) -> tuple[list[str], list[str]]:
    """(videos, clip inputs): the videos in ``paths`` and its folders, and the paths that are
    not videos (folders only when they hold clip files)."""
    videos = [p for p in expand_videos(paths) if is_video(p)]
    others = [p for p in paths if not is_video(p) and not (Path(p).is_dir() and not _has_clip_files(p))]
    return videos, others


def extract(video: str, settings: FootageSettings, progress: bool = True) -> Clip:
    """Pose estimation and tracking over a whole video file."""
    from skelprompt.video.pose import get_backend
    from skelprompt.video.track_video import extract_clip

    backend = get_backend(settings.pose_backend, input_size=settings.pose_input_size)
    return extract_clip(video, backend=backend, progress=progress)
