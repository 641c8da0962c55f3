"""Operator verdicts on alerts in ``serve``: a false alarm's windows join the shared detector's
normal set at once, a true alarm's are kept as anomaly examples (see
:mod:`skelprompt.detector.feedback`). The windows come from the database (kept as the alert
grew), the records go to the detector's sidecar file, written atomically under its lock, so a
verdict survives a restart and ``kill -9``; an undo is a record too."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skelprompt.detector.feedback import (
    FeedbackLog,
    FeedbackRecord,
    locked,
    read_log,
    sidecar_path,
    window_features,
    with_feedback,
)
from skelprompt.errors import SkelpromptError
from skelprompt.footage.windows import whole_window
from skelprompt.service.window_clips import clip_from_bytes

if TYPE_CHECKING:
    from skelprompt.clip import Clip
    from skelprompt.detector import Detector
    from skelprompt.service.prompts import SharedScorer
    from skelprompt.service.store import AlertRow, AlertStore


class FeedbackConflict(SkelpromptError):
    """The verdict cannot be recorded as asked (already given, undone, nothing kept)."""


class FeedbackDesk:
    def __init__(
        self,
        detector_path: Path,
        base: Detector,
        scorer: SharedScorer,
        store: AlertStore,
        finish: Callable[[Detector], Detector] = lambda det: det,
    ) -> None:
        """``base``: the detector file as fitted (its checksum names the sidecar's detector);
        ``finish``: applied after the feedback (a learned prompt)."""
        self.path = sidecar_path(detector_path)
        self.base, self.scorer, self.store, self.finish = base, scorer, store, finish
        self._lock = threading.Lock()
        self.log = read_log(base, self.path)

    def current(self) -> Detector:
        """The base detector with the feedback in force."""
        return self.finish(with_feedback(self.base, self.log))

    def for_alert(self, row: AlertRow) -> FeedbackRecord | None:
        return self.log.active_about("alert_key", row.key)

    def verdict(self, row: AlertRow, verdict: str, by: str, note: str = "") -> FeedbackRecord:
        """Record ``verdict`` on the alert and apply it to the running detector."""
        clips = self._clips(row)
        with self._lock, locked(self.path):
            log = read_log(self.base, self.path)  # `skelprompt feedback` may have written since
            old = log.active_about("alert_key", row.key)
            if old is not None:
                raise FeedbackConflict(
                    f"alert {row.id} is marked {old.verdict} already (record {old.id}); undo it first"
                )
            feats = self.scorer.locked(lambda: window_features(self.base, clips))
            about = {
                "camera": row.camera, "alert_id": row.id, "alert_key": row.key,
                "start_s": row.start_s, "end_s": row.end_s,
            }  # fmt: skip
            rec = log.add(verdict, feats, by, about, note)
            self._commit(log)
        return rec

    def undo(self, record_id: int, by: str) -> FeedbackRecord:
        with self._lock, locked(self.path):
            log = read_log(self.base, self.path)
            try:
                rec = log.undo(record_id, by)
            except SkelpromptError as e:
                raise FeedbackConflict(str(e)) from None
            self._commit(log)
        return rec

    def _commit(self, log: FeedbackLog) -> None:
        det = self.finish(with_feedback(self.base, log))  # fails before the write if it cannot apply
        log.save(self.path)
        self.log = log
        self.scorer.replace(det)

    def _clips(self, row: AlertRow) -> list[Clip]:
        """The alert's windows as the detector saw them: each window's whole scene and, with two
        or more persons in it, each person (as ``fit`` cuts normal footage)."""
        blobs = self.store.alert_windows(row.id)
        if not blobs:
            raise FeedbackConflict(
                f"alert {row.id} has no stored windows (it was recorded by an older service)"
            )
        out: list[Clip] = []
        for i, data in enumerate(blobs):
            clip = clip_from_bytes(data, f"alert {row.id} window {i + 1}")
            w = whole_window(clip)
            if w.clip is not None:
                out.append(w.clip)
            if len(w.persons) > 1:
                out.extend(p for _, p in w.persons)
        if not out:
            raise FeedbackConflict(f"alert {row.id}: nobody is visible in its stored windows")
        return out

    def record_json(self, r: FeedbackRecord) -> dict[str, Any]:
        gone = self.log.undone()
        return {
            "id": r.id, "verdict": r.verdict, "by": r.by, "at": r.at, "windows": r.windows, "undoes": r.undoes,
            "note": r.note, "alert_id": r.about.get("alert_id"), "camera": r.about.get("camera"),
            "in_force": r.verdict != "undo" and r.id not in gone,
        }  # fmt: skip
