"""A camera's frame counts and the rates shown in its status.

Every count is kept by the camera's own thread, and a sample of all of them is taken after
each frame it takes from the queue (processed or skipped). The rates compare the newest sample
with the oldest one of the last ``span_s`` seconds, over the time from that oldest sample to
*now*, so:

- a frame counts as *in* when it is taken from the queue or dropped by it (not while it still
  waits there), and as *processed* when it went through pose estimation; every processed frame
  was counted in between the same two samples, so the processed rate can never exceed the
  rate in, whatever happens around a file's loop restart or while a queue drains;
- a camera that stops getting frames shows its rates falling to 0 instead of the last ones;
- the processed rate is at most the pose rate: frames are picked ``1 / pose_fps`` apart in
  the stream's own time, so after a stall the backlog can pass quicker than that for an
  instant, which the figure (an average over seconds) does not show as more than the pose rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

RATE_SPAN_S = 5.0  # fps in / processed are measured over this many seconds
MAX_SAMPLES = 2000  # enough for RATE_SPAN_S at several hundred frames per second


@dataclass(frozen=True)
class Sample:
    time: float  # time.monotonic() when taken
    frames_in: int
    processed: int
    dropped: int


class FrameCounts:
    """Counts of one camera (all streams together, for files that loop) and their rates."""

    def __init__(self, pose_fps: float = 0.0, span_s: float = RATE_SPAN_S) -> None:
        self.pose_fps, self.span_s = pose_fps, span_s
        self.taken = 0  # taken from the queue (then processed or skipped)
        self.processed = 0  # through pose estimation
        self.skipped = 0  # left out on purpose to keep to pose_fps
        self.windows = 0
        self._dropped_before = 0  # dropped by the streams before the current one
        self._dropped_now = 0  # dropped by the current stream so far
        self._samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()  # the status reads the samples from another thread

    @property
    def dropped(self) -> int:
        """Discarded by the queue: pose estimation fell behind."""
        return self._dropped_before + self._dropped_now

    @property
    def frames_in(self) -> int:
        return self.taken + self.dropped

    def new_stream(self) -> None:
        """A new stream starts (its drop count starts at 0)."""
        self._dropped_before, self._dropped_now = self.dropped, 0

    def took(self, stream_dropped: int) -> None:
        """A frame was taken from the queue; ``stream_dropped``: the stream's drop count."""
        self.taken += 1
        self._dropped_now = stream_dropped

    def skip(self, now: float) -> None:
        self.skipped += 1
        self.sample(now)

    def done(self, now: float) -> None:
        """The frame taken last went through pose estimation."""
        self.processed += 1
        self.sample(now)

    def sample(self, now: float) -> None:
        with self._lock:
            self._samples.append(Sample(now, self.frames_in, self.processed, self.dropped))

    def _recent(self, now: float) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples if s.time >= now - self.span_s]

    def rates(self, now: float) -> tuple[float, float]:
        """Frames per second in and processed over the last ``span_s`` seconds, up to ``now``."""
        s = self._recent(now)
        if len(s) < 2 or now <= s[0].time:
            return 0.0, 0.0
        dt = now - s[0].time
        fps_in = (s[-1].frames_in - s[0].frames_in) / dt
        done = (s[-1].processed - s[0].processed) / dt
        return fps_in, min(done, self.pose_fps) if self.pose_fps > 0 else done

    def falling_behind(self, now: float) -> bool:
        """Frames were dropped in the last seconds: pose estimation does not keep up."""
        s = self._recent(now)
        return len(s) >= 2 and s[-1].dropped > s[0].dropped


class StageTimes:
    """Seconds a camera's thread spent in each stage (pose, tracking, ...), for the capacity
    benchmark; two clock reads per stage and frame."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, since: float) -> float:
        """Add the time from ``since`` (a ``time.perf_counter()``) to now; returns now."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now
