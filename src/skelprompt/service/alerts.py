"""A camera's alerts as they happen: opened at the first alerting window (a row in the
database at once), grown while alerting windows follow within ``gap_s`` of its end (the rule of
:func:`~skelprompt.footage.scoring.alert_spans`, so the service and ``skelprompt score`` cut the
same alerts), handed to the :class:`~skelprompt.service.closing.EvidenceWorker` when the windows
have stopped alerting for ``margin_s`` and ``gap_s``; the worker writes the evidence and closes
the row (see :mod:`skelprompt.service.store` for why none is lost or written twice)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.footage.results import WindowScore
from skelprompt.footage.scoring import continues_span
from skelprompt.footage.sources import FootageSettings
from skelprompt.service.closing import ClosedAlert, EvidenceWorker
from skelprompt.service.config import ServiceConfig
from skelprompt.service.events import EventLog
from skelprompt.service.evidence import TrackedFrame, encode_jpeg, shrink
from skelprompt.service.prompts import PromptState
from skelprompt.service.store import AlertOpening, AlertStore
from skelprompt.service.window_clips import clip_bytes
from skelprompt.video.pose import Detections
from skelprompt.video.reader import Frame

# alerting windows whose skeletons are kept per alert, for an operator's verdict (the evidence
# clip keeps the last MAX_CLIP_S seconds of an alert; at the 0.5 s stride this is 20 s)
MAX_ALERT_WINDOWS = 40


@dataclass
class _Open:
    alert_id: int
    opening: AlertOpening
    peak_time_s: float


def _persons(w: WindowScore) -> list[dict[str, Any]]:
    """The persons an alerting window names: those alerting, else its most anomalous one."""
    who = [p for p in w.persons if p.is_anomaly] or w.persons[:1]
    return [{"track_id": p.track_id, "box": p.box, "anomaly": round(p.anomaly, 4)} for p in who]


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Persons of both lists, one per track id, with its highest score and latest box."""
    out = {p["track_id"]: p for p in old}
    for p in new:
        q = out.get(p["track_id"])
        out[p["track_id"]] = {**p, "anomaly": max(p["anomaly"], q["anomaly"])} if q else p
    return sorted(out.values(), key=lambda p: -p["anomaly"])


class AlertTracker:
    def __init__(
        self,
        camera: str,
        config: ServiceConfig,
        store: AlertStore,
        events: EventLog,
        settings: FootageSettings,
        evidence: EvidenceWorker,
    ) -> None:
        self.camera, self.config, self.store, self.events = camera, config, store, events
        self.settings, self.evidence = settings, evidence
        self.threshold: float | None = None
        self.best_prompt: str | None = None
        self.layout = "coco17"
        self._fps = 10.0
        self._stream_start = 0.0
        self._open: _Open | None = None
        self._frames: Iterable[TrackedFrame] = ()
        self.window_clip: Clip | None = None  # the skeletons of the window on_window is given

    def new_stream(self, stream_start: float, fps: float, num_joints: int, layout: str) -> None:
        self._stream_start, self._fps, self.layout = stream_start, fps, layout
        self._num_joints = num_joints

    def tracked(self, frame: Frame, det: Detections, ids: np.ndarray) -> TrackedFrame:
        image, scale = shrink(frame.image)
        return TrackedFrame(
            frame.index, frame.time, encode_jpeg(image), np.asarray(ids), det.keypoints * scale, det.scores
        )

    def on_window(self, w: WindowScore, frames: Iterable[TrackedFrame], prompts: PromptState) -> None:
        self._frames = frames
        cur = self._open
        continues = cur is not None and continues_span(cur.opening.end_s, w.start_s, self.config.alert_gap_s)
        if w.is_anomaly:
            if cur is not None and continues:
                self._grow(cur, w)
                return
            if cur is not None:
                self._close(cur)
            self._start(w)
        elif cur is not None and not continues and w.end_s >= cur.opening.end_s + self.config.margin_s:
            # windows come in order: no later one can continue the alert any more
            self._close(cur)

    def close_open(self) -> None:
        """Close the alert still open (the stream ended or the service stops)."""
        if self._open is not None:
            self._close(self._open)

    def _start(self, w: WindowScore) -> None:
        a = AlertOpening(
            camera=self.camera, stream_start=self._stream_start, start_frame=w.start_frame, start_s=w.start_s,
            end_s=w.end_s, peak=float(w.anomaly or 0.0), prompt=self.best_prompt, persons=_persons(w),
        )  # fmt: skip
        alert_id = self.store.open_alert(a)
        self._open = _Open(alert_id, a, (w.start_s + w.end_s) / 2)
        self._keep_window(alert_id, w)
        late = time.time() - (self._stream_start + w.end_s)  # since the window's last frame was filmed
        self.events.publish(
            {"type": "alert", "camera": self.camera, "id": alert_id, "state": "open", "latency_s": late}
        )

    def _grow(self, cur: _Open, w: WindowScore) -> None:
        a = cur.opening
        if (w.anomaly or 0.0) > a.peak:
            a.peak, a.prompt, cur.peak_time_s = (
                float(w.anomaly or 0.0),
                self.best_prompt,
                (w.start_s + w.end_s) / 2,
            )
        a.end_s = max(a.end_s, w.end_s)
        a.persons = _merge(a.persons, _persons(w))
        self.store.grow_alert(cur.alert_id, a)
        self._keep_window(cur.alert_id, w)

    def _keep_window(self, alert_id: int, w: WindowScore) -> None:
        if self.window_clip is not None:
            self.store.add_alert_window(
                alert_id, w.start_frame, clip_bytes(self.window_clip), MAX_ALERT_WINDOWS
            )

    def _close(self, cur: _Open) -> None:
        """Hand the alert to the evidence worker, which closes its row once the clip is written."""
        self._open = None
        a = cur.opening
        frames = [f for f in self._frames if f.time_s >= a.start_s - self.config.margin_s]
        self.evidence.submit(
            ClosedAlert(
                cur.alert_id, self.camera, frames, {int(p["track_id"]): float(p["anomaly"]) for p in a.persons},
                self.threshold, self._fps, self.layout, cur.peak_time_s, self._stream_start + a.end_s,
            )
        )  # fmt: skip
