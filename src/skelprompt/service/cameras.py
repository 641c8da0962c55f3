"""One pipeline thread per camera: frames through a bounded queue (the oldest dropped when
pose estimation falls behind), pose at ``pose_fps``, tracking, a window scored every stride,
alerts opened, grown and closed with their evidence.

The loop is :class:`~skelprompt.footage.pipeline.FootageLoop`, the one live scoring and
video files go through; the camera gives it its frames (sampled at ``pose_fps``), keeps each
frame's JPEG with its skeletons for the evidence clip (:attr:`CameraPipeline.latest_frame` is
the newest), times the stages, and handles each scored window in :meth:`CameraPipeline._on_window`
(after :attr:`CameraPipeline.window_hook`, when one is set).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from skelprompt.clip import Clip
from skelprompt.footage.pipeline import FootageLoop, ScoredWindow, stream_clock
from skelprompt.footage.results import WindowScore
from skelprompt.footage.scoring import score_windows
from skelprompt.footage.sources import FootageSettings, is_stream
from skelprompt.footage.windows import FALLBACK_FPS, Window
from skelprompt.service.alerts import AlertTracker
from skelprompt.service.closing import EvidenceWorker
from skelprompt.service.config import MAX_CLIP_S, CameraSpec, ServiceConfig
from skelprompt.service.events import EventLog
from skelprompt.service.evidence import TrackedFrame
from skelprompt.service.prompts import PromptState, SharedScorer
from skelprompt.service.rates import FrameCounts, StageTimes
from skelprompt.service.store import AlertStore
from skelprompt.video.reader import Frame
from skelprompt.video.stream import FrameStream

if TYPE_CHECKING:
    from skelprompt.detector import Scores

RETRY_S = 2.0  # a live source that fails is opened again after this long


class CameraPipeline:
    """Watches one camera in a thread of its own; :meth:`status` says how it keeps up."""

    def __init__(
        self,
        spec: CameraSpec,
        config: ServiceConfig,
        scorer: SharedScorer,
        settings: FootageSettings,
        store: AlertStore,
        events: EventLog,
        evidence: EvidenceWorker,
    ) -> None:
        self.spec, self.config, self.scorer, self.settings = spec, config, scorer, settings
        self.events = events
        self.prompts = PromptState(config.prompts, config.normal_prompts, scorer.alarms_per_hour(config))
        self.counts = FrameCounts(config.pose_fps)
        self.stages = StageTimes()
        self.state = "starting"
        self.error: str | None = None
        self.source_fps: float | None = None
        self.last_window: dict[str, Any] | None = None
        self.latest_frame: TrackedFrame | None = None  # the newest processed frame (the page's tile)
        # called on each scored window (zones drop persons there); None: windows as scored
        self.window_hook: Callable[[CameraPipeline, WindowScore, Clip], WindowScore] | None = None
        self._stop = threading.Event()
        self._stream: FrameStream | None = None
        self._backend: Any = None
        self._best_prompt: str | None = None
        self._tracker_alerts = AlertTracker(spec.name, config, store, events, settings, evidence)
        self._thread = threading.Thread(target=self._run, name=f"camera-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        live = is_stream(self.spec.source)
        while not self._stop.is_set():
            try:
                with FrameStream(
                    self.spec.source, maxsize=self.config.queue_frames, realtime=not live
                ) as stream:
                    self._stream = stream
                    self.state = "running"
                    self._watch(stream, time.time())
            except Exception as e:  # noqa: BLE001 - shown in the status; live sources are retried
                self.error, self.state = f"{type(e).__name__}: {e}", "error"
                if not live:
                    return
            finally:
                self._tracker_alerts.close_open()
            if self._stop.is_set() or not (live or self.config.loop):
                break
            self._stop.wait(RETRY_S if live else 0.0)
        self.state = "stopped" if self.state != "error" else self.state

    def _sampled(self, stream: FrameStream) -> Iterator[Frame]:
        """The stream's frames at ``pose_fps`` at most (the others skipped and counted)."""
        period = 1.0 / self.config.pose_fps if self.config.pose_fps > 0 else 0.0
        due = -math.inf
        for frame in stream:
            self.counts.took(stream.dropped)
            if frame.time + 1e-6 < due:
                self.counts.skip(time.monotonic())
                continue
            due = max(due + period, frame.time + period * 0.5)
            yield frame
            if self._stop.is_set():
                return

    def _watch(self, stream: FrameStream, stream_start: float) -> None:
        from skelprompt.video.pose import get_backend

        if self._backend is None:  # once per camera: a file that loops does not reload the model
            self._backend = get_backend(
                self.settings.pose_backend, input_size=self.settings.pose_input_size,
                num_threads=self.config.pose_threads,
            )  # fmt: skip
        self.source_fps = stream.fps or FALLBACK_FPS
        fps = min(self.source_fps, self.config.pose_fps) if self.config.pose_fps > 0 else self.source_fps
        alerts = self._tracker_alerts
        loop: FootageLoop[TrackedFrame] = FootageLoop(
            self._backend, fps, self.settings.window_length_s, self.settings.window_stride_s,
            source=self.spec.name, img_shape=stream.size, record=alerts.tracked, record_stage="evidence frames",
            keep_s=MAX_CLIP_S + self.config.margin_s, clock=stream_clock, timer=self.stages.add,
            on_frame=self._frame_done,
        )  # fmt: skip
        alerts.new_stream(stream_start, fps, loop.num_joints, loop.layout)
        self.counts.new_stream()
        for scored in loop.scored_windows(self._sampled(stream), self._score):
            self._on_window(scored, loop.frames)

    def _frame_done(self, frame: TrackedFrame) -> None:
        self.latest_frame = frame
        self.counts.done(time.monotonic())

    def _score(self, windows: list[Window]) -> tuple[list[WindowScore], Scores | None]:
        """Score windows with the prompts of the moment (the best-matching one remembered)."""
        p = self.prompts.snapshot()
        rows, scores, self._best_prompt = self.scorer.score_windows(
            score_windows,
            windows,
            p.prompts,
            p.normal_prompts,
            p.false_alarm_rate(self.settings.window_stride_s),
        )
        return rows, scores

    def _on_window(self, scored: ScoredWindow[TrackedFrame], frames: Iterable[TrackedFrame]) -> None:
        """A window scored: shown on the page, then grown into (or closing) an alert."""
        t = time.perf_counter()
        row, scores = scored.row, scored.scores
        if self.window_hook is not None:
            row = self.window_hook(self, row, scored.clip)
        self._tracker_alerts.window_clip = scored.clip  # kept with an alert for the operator's verdict
        self.counts.windows += 1
        self.last_window = {
            "time": time.time(), "start_s": row.start_s, "end_s": row.end_s, "anomaly": row.anomaly,
            "threshold": scores.threshold, "is_anomaly": row.is_anomaly, "prompt": self._best_prompt,
        }  # fmt: skip
        self.events.publish({"type": "window", "camera": self.spec.name, **self.last_window})
        alerts = self._tracker_alerts
        alerts.threshold, alerts.best_prompt = scores.threshold, self._best_prompt
        alerts.on_window(row, frames, self.prompts)
        self.stages.add("alerts", t)

    # ------------------------------------------------------------------ status
    def rates(self) -> tuple[float, float]:
        """Frames per second in and processed over the last seconds."""
        return self.counts.rates(time.monotonic())

    def falling_behind(self) -> bool:
        return self.counts.falling_behind(time.monotonic())
