"""One pose -> track -> window -> score loop for all footage: live scoring
(`skelprompt score --live`, webcams, URLs), the service's cameras and video files (`score`,
archive jobs).

:class:`FootageLoop` runs the pose model and the tracker on each frame
(:func:`~skelprompt.video.track_video.iter_tracked`), keeps what its consumer records of each
frame, and cuts windows in one of two ways:

- as frames arrive (:meth:`FootageLoop.scored_windows`): every stride, a window over the last
  window length of frames, tracked as a clip of its own and scored at once;
- over a whole file (:meth:`FootageLoop.video_result`): the whole tracked clip (short tracks
  dropped), cut into windows with the last one aligned to the end, scored in one batch.

Both score through :func:`~skelprompt.footage.scoring.score_windows`, so a window's persons,
scores and alert rule are the same wherever footage comes from.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import numpy as np

from skelprompt.clip import Clip
from skelprompt.footage.results import VideoResult, WindowScore
from skelprompt.footage.scoring import ClipScorer, score_video_clip
from skelprompt.footage.windows import FALLBACK_FPS, Window, whole_window
from skelprompt.layouts import get_layout
from skelprompt.tracks import Tracker, clip_from_frames
from skelprompt.video.pose import Detections, PoseBackend
from skelprompt.video.reader import Frame, VideoSource

if TYPE_CHECKING:
    from skelprompt.detector import Scores


class PosedFrame(Protocol):
    """What the loop needs of a recorded frame to build a window from it."""

    @property
    def index(self) -> int: ...  # in the source
    @property
    def time_s(self) -> float: ...  # seconds into the source
    @property
    def ids(self) -> np.ndarray: ...  # [P] track ids
    @property
    def keypoints(self) -> np.ndarray: ...  # [P, V, 2]
    @property
    def scores(self) -> np.ndarray: ...  # [P, V]


@dataclass
class TrackedPeople:
    """A frame's tracked people, without its image: what live scoring keeps of a frame."""

    index: int
    time_s: float
    ids: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray


def people_of(frame: Frame, det: Detections, ids: np.ndarray) -> TrackedPeople:
    return TrackedPeople(frame.index, frame.time, np.asarray(ids), det.keypoints, det.scores)


R = TypeVar("R", bound=PosedFrame)
Record = Callable[[Frame, Detections, np.ndarray], R]  # what a consumer keeps of a frame
# (stage name, perf_counter when it began) -> perf_counter now: times the loop's stages
Timer = Callable[[str, float], float]
# windows -> one row per window and the detector's scores (None when nobody is in any)
WindowScorer = Callable[[list[Window]], "tuple[list[WindowScore], Scores | None]"]
# (first frame, last frame, fps) -> (start_s, end_s) of a window on its consumer's timeline
Clock = Callable[[PosedFrame, PosedFrame, float], tuple[float, float]]


def frame_clock(first: PosedFrame, last: PosedFrame, fps: float) -> tuple[float, float]:
    """Seconds from frame indices: the source's own timeline (a file's, or a stream's frames)."""
    return first.index / fps, (last.index + 1) / fps


def stream_clock(first: PosedFrame, last: PosedFrame, fps: float) -> tuple[float, float]:
    """Seconds from the frames' times (a live source's are wall-clock), to the millisecond."""
    return round(first.time_s, 3), round(last.time_s + 1.0 / fps, 3)


def _untimed(stage: str, since: float) -> float:
    return since


@dataclass
class ScoredWindow(Generic[R]):
    row: WindowScore  # frames and seconds on the source's timeline
    scores: Scores  # the detector's, for the window and each person in it (threshold, prompts)
    frames: list[R]  # the window's frames
    clip: Clip  # the window's tracked clip, as scored


class FootageLoop(Generic[R]):
    """Pose, tracking, windows and scores over one source's frames.

    ``fps`` is the rate of the frames the loop is given (a consumer that samples frames gives
    its sampling rate); windows are ``length_s`` long, one every ``stride_s``. ``record``
    makes what is kept of each frame (default: its tracked people; the time it takes is the
    stage ``record_stage``); :attr:`frames` holds the last window's worth plus ``keep_s``
    seconds of them, :attr:`latest` the newest; ``on_frame`` is called with each. ``timer``
    is told how long each stage took: pose, tracking, the record, windows (scoring).
    """

    def __init__(
        self,
        backend: PoseBackend,
        fps: float | None,
        length_s: float,
        stride_s: float,
        *,
        source: str = "",
        img_shape: tuple[int, int] | None = None,
        record: Record[R] = people_of,  # type: ignore[assignment]
        record_stage: str = "frames",
        keep_s: float = 0.0,
        clock: Clock = frame_clock,
        timer: Timer | None = None,
        on_frame: Callable[[R], None] | None = None,
    ) -> None:
        self.backend, self.source, self.img_shape = backend, source, img_shape
        self.fps = fps or FALLBACK_FPS
        self.length_s, self.stride_s = length_s, stride_s
        self.length = max(2, round(length_s * self.fps))  # frames
        self.stride = max(1, round(stride_s * self.fps))
        self.layout = backend.layout
        self.num_joints = get_layout(backend.layout).num_joints
        self.record, self.record_stage, self.on_frame = record, record_stage, on_frame
        self.clock, self.timer = clock, timer or _untimed
        self.frames: deque[R] = deque(maxlen=self.length + round(keep_s * self.fps))
        self.latest: R | None = None
        self.tracker = Tracker()

    def track(self, frames: Iterable[Frame]) -> Iterator[R]:
        """Pose and tracking on each frame: its record, also kept in :attr:`frames`."""
        from skelprompt.video.track_video import iter_tracked

        for frame, det, ids in iter_tracked(frames, self.backend, self.tracker, self.timer):
            t = time.perf_counter()
            item = self.record(frame, det, ids)
            self.timer(self.record_stage, t)
            self.frames.append(item)
            self.latest = item
            if self.on_frame is not None:
                self.on_frame(item)
            yield item

    def windows(self, frames: Iterable[Frame]) -> Iterator[list[R]]:
        """As frames arrive: every stride, the frames of the last window length (full windows
        only). Frames the source dropped make a window span more of the source than that."""
        since = 0
        for _ in self.track(frames):
            since += 1
            if len(self.frames) < self.length or since < self.stride:
                continue
            since = 0
            yield list(self.frames)[-self.length :]

    def window_clip(self, window: Sequence[R]) -> Clip | None:
        """The frames of one window as a tracked clip (None when nobody is in them)."""
        return clip_from_frames(
            [(f.ids, f.keypoints, f.scores) for f in window], self.num_joints, 1, layout=self.layout,
            fps=self.fps, img_shape=self.img_shape, source=self.source, start_frame=window[0].index,
        )  # fmt: skip

    def score_window(self, window: list[R], score: WindowScorer) -> ScoredWindow[R] | None:
        """Score one window (all of its frames, as one); None when nobody is visible in it."""
        clip = self.window_clip(window)
        if clip is None:
            return None
        rows, scores = score([whole_window(clip)])
        if not rows or scores is None:
            return None
        row = rows[0]
        first, last = window[0], window[-1]
        row.start_frame, row.end_frame = first.index, last.index + 1
        row.start_s, row.end_s = self.clock(first, last, self.fps)
        return ScoredWindow(row, scores, window, clip)

    def scored_windows(self, frames: Iterable[Frame], score: WindowScorer) -> Iterator[ScoredWindow[R]]:
        """The online loop: windows scored as the frames arrive (those with nobody skipped)."""
        for window in self.windows(frames):
            t = time.perf_counter()
            scored = self.score_window(window, score)
            self.timer("windows", t)
            if scored is not None:
                yield scored

    def whole_clip(self, video: VideoSource, progress: bool = False) -> Clip:
        """The offline loop's first half: every frame of a video file tracked into one clip
        (tracks seen in too few frames dropped; see
        :func:`~skelprompt.video.track_video.extract_clip`)."""
        from skelprompt.video.track_video import extract_clip

        return extract_clip(video, backend=self.backend, progress=progress, tracker=self.tracker)

    def video_result(
        self,
        video: VideoSource,
        detector: ClipScorer,
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
        progress: bool = False,
    ) -> tuple[Clip, VideoResult]:
        """The offline loop: a video file tracked whole, cut into windows, scored in one batch."""
        clip = self.whole_clip(video, progress)
        result = score_video_clip(
            detector, clip, prompts, normal_prompts, self.length_s, self.stride_s, false_alarm_rate
        )
        return clip, result
