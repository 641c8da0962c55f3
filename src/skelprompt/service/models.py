"""The API's request and response bodies (strict: no silent type coercion)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PromptText = Field(min_length=1, max_length=300)


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Health(Strict):
    status: str
    version: str
    cameras: int


class LastWindow(Strict):
    time: str  # wall clock, ISO 8601
    start_s: float  # seconds into the stream
    end_s: float
    anomaly: float | None
    threshold: float | None
    is_anomaly: bool
    prompt: str | None  # the prompt that matched the window best


class Camera(Strict):
    name: str
    source: str
    status: str  # starting, running, falling behind, stopped, error
    error: str | None
    fps_in: float  # frames per second read from the source (last seconds)
    fps_processed: float  # frames per second through pose estimation
    pose_fps: float
    source_fps: float | None
    frames_in: int
    frames_processed: int
    dropped_frames: int  # discarded because pose estimation fell behind
    skipped_frames: int  # left out on purpose to keep to pose_fps
    falling_behind: bool
    windows: int
    last_window: LastWindow | None
    prompts: list[str]
    normal_prompts: list[str]
    alarms_per_hour: float


class PromptChange(Strict):
    prompts: list[str] = Field(max_length=20)
    normal_prompts: list[str] = Field(default_factory=list, max_length=20)
    alarms_per_hour: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False)


class Person(Strict):
    track_id: int
    box: list[float]  # x0, y0, x1, y1 in pixels of the camera's frame
    anomaly: float


class Feedback(Strict):
    """An operator's verdict on an alert, or the undo of one."""

    id: int
    verdict: str  # false_alarm, true_alarm, undo
    by: str
    at: str  # UTC, ISO 8601
    windows: int  # windows recorded (0 for an undo)
    undoes: int | None
    note: str
    alert_id: int | None
    camera: str | None
    in_force: bool  # a verdict not undone


class Verdict(Strict):
    verdict: Literal["false_alarm", "true_alarm"]
    by: str = Field(default="operator", min_length=1, max_length=100)
    note: str = Field(default="", max_length=300)


class Undo(Strict):
    by: str = Field(default="operator", min_length=1, max_length=100)


Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Point = Annotated[list[Fraction], Field(min_length=2, max_length=2)]  # x, y


class Zone(Strict):
    """A polygon on the camera's picture; points as fractions of its width and height."""

    kind: Literal["count", "ignore"]
    points: list[Point] = Field(min_length=3, max_length=100)


class Zones(Strict):
    zones: list[Zone] = Field(max_length=50)


class Alert(Strict):
    id: int
    camera: str
    state: str  # open (still going on), closed, interrupted (the service stopped during it)
    start: str  # wall clock, ISO 8601
    end: str
    start_s: float  # seconds into the stream
    end_s: float
    peak: float
    prompt: str | None
    persons: list[Person]
    acknowledged: bool
    created: str
    clip_url: str | None
    snapshot_url: str | None
    feedback: Feedback | None = None  # the operator's verdict in force


class Problem(Strict):
    detail: str
