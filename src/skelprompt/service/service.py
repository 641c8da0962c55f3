"""The running service: the detector, one pipeline per camera, the store, the event log and
the webhook sender, started and stopped together."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skelprompt import __version__
from skelprompt.footage.sources import FootageSettings
from skelprompt.service.cameras import CameraPipeline
from skelprompt.service.closing import EvidenceWorker
from skelprompt.service.config import ServiceConfig
from skelprompt.service.events import EventLog
from skelprompt.service.feedback import FeedbackDesk
from skelprompt.service.prompts import SharedScorer
from skelprompt.service.store import AlertRow, AlertStore, iso
from skelprompt.service.webhook import WebhookSender
from skelprompt.service.zones import ZoneBook

if TYPE_CHECKING:
    from skelprompt.detector import Detector


class Service:
    def __init__(self, config: ServiceConfig) -> None:
        from skelprompt.detector import Detector

        self.config = config
        base = Detector.load(config.detector)
        self.settings = FootageSettings.of_detector(base.info, pose_input_size=config.pose_input)
        self.store = AlertStore(config.db_url())
        self.scorer = SharedScorer(base)
        self.feedback = FeedbackDesk(config.detector, base, self.scorer, self.store, _finish(config))
        self.scorer.replace(self.feedback.current())
        self.zones = ZoneBook(self.store)
        self.recovered = self.store.recover()
        self.events = EventLog()
        self.evidence = EvidenceWorker(config.evidence_folder(), self.store, self.events)
        self.cameras = {
            c.name: CameraPipeline(
                c, config, self.scorer, self.settings, self.store, self.events, self.evidence
            )
            for c in config.cameras
        }
        for cam in self.cameras.values():
            cam.window_hook = self.zones.hook
        self.webhook = WebhookSender(self.store, config.webhook, self.alert_json) if config.webhook else None

    def start(self) -> None:
        self.evidence.start()
        for cam in self.cameras.values():
            cam.start()
        if self.webhook:
            self.webhook.start()

    def stop(self) -> None:
        for cam in self.cameras.values():
            cam.stop()
        self.evidence.stop()  # after the cameras: they hand over the alerts still open
        if self.webhook:
            self.webhook.stop()
        self.store.close()

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "cameras": len(self.cameras)}

    def camera_json(self, cam: CameraPipeline) -> dict[str, Any]:
        fps_in, fps_done = cam.rates()
        behind = cam.falling_behind()
        p = cam.prompts.snapshot()
        lw = cam.last_window
        c = cam.counts
        return {
            "name": cam.spec.name, "source": cam.spec.source,
            "status": "falling behind" if behind and cam.state == "running" else cam.state, "error": cam.error,
            "fps_in": round(fps_in, 2), "fps_processed": round(fps_done, 2), "pose_fps": self.config.pose_fps,
            "source_fps": cam.source_fps, "frames_in": c.frames_in, "frames_processed": c.processed,
            "dropped_frames": c.dropped, "skipped_frames": c.skipped, "falling_behind": behind,
            "windows": c.windows, "last_window": None if lw is None else {**_finite(lw), "time": iso(lw["time"])},
            "prompts": p.prompts, "normal_prompts": p.normal_prompts, "alarms_per_hour": p.alarms_per_hour,
        }  # fmt: skip

    def alert_json(self, alert: AlertRow | int) -> dict[str, Any] | None:
        row = self.store.get(alert) if isinstance(alert, int) else alert
        if row is None:
            return None
        base = f"/api/alerts/{row.id}"
        return {
            "id": row.id, "camera": row.camera, "state": row.state,
            "start": iso(row.stream_start + row.start_s), "end": iso(row.stream_start + row.end_s),
            "start_s": row.start_s, "end_s": row.end_s, "peak": _num(row.peak), "prompt": row.prompt,
            "persons": json.loads(row.persons_json), "acknowledged": row.acknowledged, "created": iso(row.created),
            "clip_url": f"{base}/clip.mp4" if row.clip_file else None,
            "snapshot_url": f"{base}/snapshot.jpg" if row.snapshot_file else None,
            "feedback": self._feedback_json(row),
        }  # fmt: skip

    def _feedback_json(self, row: AlertRow) -> dict[str, Any] | None:
        rec = self.feedback.for_alert(row)
        return None if rec is None else self.feedback.record_json(rec)

    def evidence_path(self, row: AlertRow, kind: str) -> Any:
        name = row.clip_file if kind == "clip" else row.snapshot_file
        if not name:
            return None
        path = self.config.evidence_folder() / name
        return path if path.is_file() else None


def _num(x: float | None) -> float:
    return float(x) if x is not None and math.isfinite(x) else 0.0


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _finish(config: ServiceConfig) -> Callable[[Detector], Detector]:
    """What the service does to the detector after the operator's feedback: its learned prompt."""
    if config.learned_prompt is None:
        return lambda det: det
    from skelprompt.prompt_learning import load_learned_prompt, with_learned_prompt

    learned = load_learned_prompt(config.learned_prompt)
    return lambda det: with_learned_prompt(det, learned)
