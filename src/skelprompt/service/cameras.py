"""One pipeline thread per camera: frames through a bounded queue (the oldest dropped when
pose estimation falls behind), pose at ``pose_fps``, tracking, a window scored every stride,
alerts opened, grown and closed with their evidence.

The pieces are skelprompt's own: :class:`~skelprompt.video.stream.FrameStream`,
:func:`~skelprompt.video.track_video.iter_tracked`, :func:`~skelprompt.tracks.clip_from_frames`,
:func:`~skelprompt.footage.scoring.score_windows`. The loop is written here rather than taken
from :func:`~skelprompt.footage.live.stream_windows` because the service keeps the frames and
poses of the last seconds as well, to draw an alert's evidence clip, and times its stages.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from skelprompt.clip import Clip
from skelprompt.footage.live import WHOLE_CLIP_S
from skelprompt.footage.results import WindowScore
from skelprompt.footage.scoring import score_windows
from skelprompt.footage.sources import FootageSettings, is_stream
from skelprompt.footage.video import FALLBACK_FPS
from skelprompt.footage.windows import cut_windows
from skelprompt.layouts import get_layout
from skelprompt.service.alerts import AlertTracker
from skelprompt.service.closing import EvidenceWorker
from skelprompt.service.config import MAX_CLIP_S, CameraSpec, ServiceConfig
from skelprompt.service.events import EventLog
from skelprompt.service.evidence import TrackedFrame
from skelprompt.service.prompts import PromptState, SharedScorer
from skelprompt.service.rates import FrameCounts, StageTimes
from skelprompt.service.store import AlertStore
from skelprompt.tracks import Tracker, clip_from_frames
from skelprompt.video.reader import Frame
from skelprompt.video.stream import FrameStream

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
        backend = self._backend
        self.source_fps = stream.fps or FALLBACK_FPS
        fps = min(self.source_fps, self.config.pose_fps) if self.config.pose_fps > 0 else self.source_fps
        length = max(2, round(self.settings.window_length_s * fps))
        stride = max(1, round(self.settings.window_stride_s * fps))
        keep = length + round((MAX_CLIP_S + self.config.margin_s) * fps)
        frames: deque[Any] = deque(maxlen=keep)
        alerts = self._tracker_alerts
        alerts.new_stream(stream_start, fps, get_layout(backend.layout).num_joints, backend.layout)
        since = 0
        self.counts.new_stream()
        tracker, stages = Tracker(), self.stages
        for frame in self._sampled(stream):
            t = time.perf_counter()
            det = backend(frame.image)
            t = stages.add("pose", t)
            ids = tracker.update(det.keypoints, det.scores, det.boxes, frame=frame.index)
            t = stages.add("tracking", t)
            frames.append(alerts.tracked(frame, det, ids))
            self.latest_frame = frames[-1]
            t = stages.add("evidence frames", t)
            self.counts.done(time.monotonic())
            since += 1
            if len(frames) < length or since < stride:
                continue
            since = 0
            w = self._score(list(frames)[-length:], stream, fps)
            t = stages.add("windows", t)
            if w is not None:
                alerts.on_window(w, frames, self.prompts)
                stages.add("alerts", t)

    def _score(self, window: list[Any], stream: FrameStream, fps: float) -> WindowScore | None:
        """Score the window over ``window`` (tracked frames); None when nobody is in it."""
        h, w = stream.size
        clip = clip_from_frames(
            [(f.ids, f.keypoints, f.scores) for f in window], window[0].keypoints.shape[1], 1,
            layout=self._tracker_alerts.layout, fps=fps, img_shape=(h, w), source=self.spec.name,
            start_frame=window[0].index,
        )  # fmt: skip
        if clip is None:
            return None
        p = self.prompts.snapshot()
        rows, scores, best_prompt = self.scorer.score_windows(
            score_windows, cut_windows(clip, length_s=WHOLE_CLIP_S), p.prompts, p.normal_prompts,
            p.false_alarm_rate(self.settings.window_stride_s),
        )  # fmt: skip
        if not rows or scores is None:
            return None
        row = rows[0]
        row.start_frame, row.end_frame = window[0].index, window[-1].index + 1
        row.start_s, row.end_s = round(window[0].time_s, 3), round(window[-1].time_s + 1.0 / fps, 3)
        row = self.window_hook(self, row, clip) if self.window_hook is not None else row
        self._tracker_alerts.window_clip = clip
        self.counts.windows += 1
        self.last_window = {
            "time": time.time(), "start_s": row.start_s, "end_s": row.end_s, "anomaly": row.anomaly,
            "threshold": scores.threshold, "is_anomaly": row.is_anomaly, "prompt": best_prompt,
        }  # fmt: skip
        self.events.publish({"type": "window", "camera": self.spec.name, **self.last_window})
        self._tracker_alerts.threshold, self._tracker_alerts.best_prompt = scores.threshold, best_prompt
        return row

    # ------------------------------------------------------------------ status
    def rates(self) -> tuple[float, float]:
        """Frames per second in and processed over the last seconds."""
        return self.counts.rates(time.monotonic())

    def falling_behind(self) -> bool:
        return self.counts.falling_behind(time.monotonic())
