"""Closing alerts off the cameras' threads: one small worker per service draws and encodes each
closed alert's evidence (H.264 clip, JPEG snapshot) and only then marks its row closed.

A camera hands a closed alert over with :meth:`EvidenceWorker.submit` and goes on at once. The
queue is bounded: when it is full (alerts closing faster than clips encode) the alert is
closed at once without evidence, so that neither the camera waits nor memory grows.

The durability argument of :mod:`skelprompt.service.store` holds unchanged: the row stays
``open`` until the worker has written the clip and the snapshot atomically and then closes it
(with its webhook message) in one transaction; a process killed while alerts wait here leaves
them ``open``, and the next start turns them ``interrupted``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from skelprompt.service.events import EventLog
from skelprompt.service.evidence import TrackedFrame, write_evidence
from skelprompt.service.store import AlertStore

log = logging.getLogger(__name__)

DEFAULT_PENDING = 8  # closed alerts waiting for their clip; more are closed without one
STOP_WAIT_S = 60.0  # how long stopping waits for the clips still waiting


@dataclass
class ClosedAlert:
    """A closed alert and what its evidence is drawn from."""

    alert_id: int
    camera: str
    frames: list[TrackedFrame]  # the camera's frames over the alert and its margin
    person_scores: dict[int, float]  # track id -> peak score
    threshold: float | None
    fps: float
    layout: str
    snapshot_time_s: float
    last_filmed: float  # wall-clock time the last alerting frame was filmed


class EvidenceWorker:
    def __init__(
        self, folder: Path, store: AlertStore, events: EventLog, pending: int = DEFAULT_PENDING
    ) -> None:
        self.folder, self.store, self.events = folder, store, events
        self.without_evidence = 0  # closed without a clip because the queue was full
        self.seconds = 0.0  # spent drawing and encoding (for the capacity benchmark)
        self._queue: queue.Queue[ClosedAlert | None] = queue.Queue(maxsize=pending)
        self._thread = threading.Thread(target=self._run, name="alert-evidence", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, alert: ClosedAlert) -> None:
        """Hand ``alert`` over; never waits (a full queue closes it without evidence)."""
        try:
            if not self._thread.is_alive():
                raise queue.Full  # not started or stopped: nobody would take it
            self._queue.put_nowait(alert)
        except queue.Full:
            self.without_evidence += 1
            log.warning(f"skelprompt serve: alert {alert.alert_id}: closed without a clip (encoder busy)")
            self._close(alert, None, None)

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Encode what waits (up to ``timeout``), then end the worker."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            clip = snap = None
            start = time.perf_counter()
            try:
                if alert.frames:
                    clip, snap = write_evidence(
                        self.folder, f"alert-{alert.alert_id}", alert.frames, alert.person_scores,
                        alert.threshold, alert.fps, alert.layout, alert.snapshot_time_s,
                    )  # fmt: skip
            except Exception as e:  # noqa: BLE001 - the alert is kept without its evidence
                log.warning(f"skelprompt serve: alert {alert.alert_id}: evidence not written: {e}")
            self.seconds += time.perf_counter() - start
            self._close(alert, clip, snap)

    def _close(self, alert: ClosedAlert, clip: str | None, snap: str | None) -> None:
        self.store.close_alert(alert.alert_id, clip, snap)
        late = time.time() - alert.last_filmed
        self.events.publish(
            {
                "type": "alert",
                "camera": alert.camera,
                "id": alert.alert_id,
                "state": "closed",
                "latency_s": late,
            }
        )
