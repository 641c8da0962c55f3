"""Typed scoring results and the one JSON form written for them.

Clip files give a :class:`ClipResult` (one :class:`ClipScore` per clip); a video gives a
:class:`VideoResult` (windows: when; persons: who; alert spans: merged alerting windows).
:func:`to_json` turns either (or several videos) into the JSON ``skelprompt score --json``
writes, described by ``result.schema.json`` beside this module; :func:`from_json` reads it
back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt import __version__

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("result.schema.json")


@dataclass
class PersonScore:
    """One tracked person's part of one window."""

    track_id: int
    box: list[float]  # x0, y0, x1, y1 of the person's visible joints in the window
    anomaly: float
    ood: float
    prompt: float
    is_anomaly: bool


@dataclass
class WindowScore:
    """One window: the whole scene's scores (None when nobody is visible) and its persons,
    most anomalous first."""

    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    anomaly: float | None = None
    ood: float | None = None
    prompt: float | None = None
    is_anomaly: bool = False
    persons: list[PersonScore] = field(default_factory=list)


@dataclass
class AlertSpan:
    """Overlapping alerting windows merged: when, how anomalous at worst, and who."""

    start_s: float
    end_s: float
    peak: float
    track_ids: list[int] = field(default_factory=list)


@dataclass
class VideoResult:
    source: str | None
    fps: float | None
    frames: int
    persons: int  # tracked people in the whole video
    window_length_s: float
    window_stride_s: float
    threshold: float | None
    prompts: list[str]
    normal_prompts: list[str]
    video_score: float | None  # the highest window anomaly
    alert_spans: list[AlertSpan]
    windows: list[WindowScore]
    note: str | None = None  # why there are no scores, when there are none


@dataclass
class ClipScore:
    """One clip of a clip file."""

    source: str | None
    frame_dir: str | None
    label: str | None
    anomaly: float
    ood: float
    prompt: float
    p_ood: float
    p_prompt: float
    is_anomaly: bool


@dataclass
class ClipResult:
    threshold: float
    prompts: list[str]
    normal_prompts: list[str]
    clips: list[ClipScore]


Result = ClipResult | VideoResult | list[VideoResult]


def detector_checksum(detector: object) -> str | None:
    """What identifies the detector: its own ``checksum()`` where it has one, else the
    checksum of its model as read from its file (None for a detector never saved)."""
    checksum = getattr(detector, "checksum", None)
    if callable(checksum):
        return str(checksum())
    info = getattr(detector, "info", None) or {}
    value = info.get("model_checksum")
    return str(value) if value is not None else None


def normal_clip_count(detector: object) -> int | None:
    """How many normal clips (windows, for footage) the detector's threshold was set from."""
    normal_ood = getattr(detector, "normal_ood", None)
    if normal_ood is not None:
        return len(normal_ood)
    value = (getattr(detector, "info", None) or {}).get("num_normal_clips")
    return int(value) if value is not None else None


def finite_json(obj: Any) -> Any:
    """``obj`` with NumPy values made plain and every NaN or infinity made None: JSON has no
    NaN, and a bare ``NaN`` in a file makes it unreadable to most JSON readers."""
    if isinstance(obj, np.ndarray | np.generic):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return finite_json(asdict(obj))
    return obj


def result_head(detector: object, detector_path: str | Path) -> dict[str, Any]:
    """What every result JSON starts with: schema and skelprompt versions and the detector
    (path, checksum, how many normal clips set its threshold)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "skelprompt_version": __version__,
        "detector": {
            "path": str(detector_path),
            "checksum": detector_checksum(detector),
            "normal_clips": normal_clip_count(detector),
        },
    }


def to_json(result: Result, detector: object, detector_path: str | Path) -> dict[str, Any]:
    """The JSON-able form of ``result`` with what produced it: schema and skelprompt versions,
    the detector (path, checksum, how many normal clips set its threshold) and the prompts
    used. Several videos go under ``videos``. Scores that are not finite become None."""
    head = result_head(detector, detector_path)
    if isinstance(result, list):
        first = result[0] if result else None
        return finite_json(
            {
                **head,
                "prompts": list(first.prompts) if first else [],
                "normal_prompts": list(first.normal_prompts) if first else [],
                "videos": [asdict(v) for v in result],
            }
        )
    return finite_json({**head, **asdict(result)})


def _build(cls: type, data: dict[str, Any]) -> Any:
    """``cls`` from its dict, ignoring keys it has no field for (the JSON head, extras)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _window(data: dict[str, Any]) -> WindowScore:
    w = _build(WindowScore, data)
    w.persons = [_build(PersonScore, p) for p in data.get("persons", [])]
    return w


def video_from_json(data: dict[str, Any]) -> VideoResult:
    v = _build(VideoResult, {"note": None, **data})
    v.alert_spans = [_build(AlertSpan, s) for s in data.get("alert_spans", [])]
    v.windows = [_window(w) for w in data.get("windows", [])]
    return v


def from_json(data: dict[str, Any]) -> Result:
    """The result a :func:`to_json` dict holds."""
    if "clips" in data:
        r = _build(ClipResult, data)
        r.clips = [_build(ClipScore, c) for c in data["clips"]]
        return r
    if "videos" in data:
        return [video_from_json(v) for v in data["videos"]]
    return video_from_json(data)
