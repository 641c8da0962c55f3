"""The service cuts a camera's windows into the same alerts as `skelprompt score`'s alert spans
(an event that flickers below the threshold is one alert), and closes them through the
evidence worker without the camera waiting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the service extra: pip install 'skelprompt[service]'")

from skelprompt.footage import PersonScore, WindowScore, alert_spans  # noqa: E402
from skelprompt.footage.sources import FootageSettings  # noqa: E402
from skelprompt.service.alerts import AlertTracker  # noqa: E402
from skelprompt.service.closing import EvidenceWorker  # noqa: E402
from skelprompt.service.config import ServiceConfig  # noqa: E402
from skelprompt.service.events import EventLog  # noqa: E402
from skelprompt.service.prompts import PromptState  # noqa: E402
from skelprompt.service.store import CLOSED, AlertStore  # noqa: E402

STRIDE_S, LENGTH_S = 0.5, 2.0
# windows 0-3 alert, 4-8 do not (a flicker: 2.5 s of windows), 9-11 alert, then quiet; and a
# second event far later
ALERTING = {0, 1, 2, 3, 9, 10, 11, 30, 31}


def _windows() -> list[WindowScore]:
    rows = []
    for k in range(50):
        start = k * STRIDE_S
        alert = k in ALERTING
        score = 1.0 + k / 100 if alert else 0.1
        person = PersonScore(7, [0.0, 0.0, 10.0, 10.0], score, score, 0.0, alert)
        rows.append(
            WindowScore(k * 5, k * 5 + 20, start, start + LENGTH_S, score, score, 0.0, alert, [person])
        )
    return rows


def test_service_alerts_match_score_alert_spans(tmp_path: Path) -> None:
    config = ServiceConfig(detector=tmp_path / "unused", cameras=[], db=str(tmp_path / "a.sqlite"))
    store, events = AlertStore(config.db_url()), EventLog()
    worker = EvidenceWorker(config.evidence_folder(), store, events)
    worker.start()
    tracker = AlertTracker("cam", config, store, events, FootageSettings(), worker)
    tracker.new_stream(time.time(), 10.0, 17, "coco17")
    prompts = PromptState(["a person falling down"], [], 1.0)
    rows = _windows()
    for w in rows:
        tracker.on_window(w, [], prompts)
    tracker.close_open()
    worker.stop()
    alerts = sorted(store.alerts(), key=lambda a: a.id)
    spans = alert_spans(rows)
    assert len(spans) == 2  # the flicker is part of the first span
    assert [(a.start_s, a.end_s) for a in alerts] == [(s.start_s, s.end_s) for s in spans]
    assert [a.peak for a in alerts] == pytest.approx([s.peak for s in spans])
    assert all(a.state == CLOSED for a in alerts)  # closed by the worker
    closed = [e for _, e in events.since(0) if e["type"] == "alert" and e["state"] == "closed"]
    assert sorted(e["id"] for e in closed) == [a.id for a in alerts]
    store.close()
