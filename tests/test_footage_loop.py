"""The one footage loop as the service's cameras use it: each scored window goes through the
camera's window hook (where zones drop persons) before the alerts see it, and the newest
processed frame is at hand for the page."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the service extra: pip install 'skelprompt[service]'")
pytest.importorskip("ai_edge_litert")

from skelprompt.clip import Clip  # noqa: E402
from skelprompt.footage import FootageSettings, WindowScore  # noqa: E402
from skelprompt.service.cameras import CameraPipeline  # noqa: E402
from skelprompt.service.closing import EvidenceWorker  # noqa: E402
from skelprompt.service.config import CameraSpec, ServiceConfig  # noqa: E402
from skelprompt.service.events import EventLog  # noqa: E402
from skelprompt.service.prompts import SharedScorer  # noqa: E402
from skelprompt.service.store import AlertStore  # noqa: E402
from skelprompt.video.stream import FrameStream  # noqa: E402
from tests.conftest import EXAMPLES  # noqa: E402


def test_camera_windows_go_through_the_hook_and_the_latest_frame_is_kept(
    street_detector: Path, tmp_path: Path
) -> None:
    from skelprompt.detector import Detector

    video = str(EXAMPLES / "sports2d_demo_cut.mp4")
    det = Detector.load(street_detector)
    config = ServiceConfig(
        detector=street_detector, cameras=[CameraSpec("yard", video)], prompts=["a person falling down"],
        db=str(tmp_path / "a.sqlite"), alarms_per_hour=1e6,  # every window alerts: the hook's drop shows
    )  # fmt: skip
    store, events = AlertStore(config.db_url()), EventLog()
    worker = EvidenceWorker(config.evidence_folder(), store, events)
    worker.start()
    camera = CameraPipeline(
        config.cameras[0],
        config,
        SharedScorer(det),
        FootageSettings.of_detector(det.info),
        store,
        events,
        worker,
    )
    seen: list[tuple[WindowScore, Clip]] = []

    def drop_everyone(cam: CameraPipeline, row: WindowScore, clip: Clip) -> WindowScore:
        seen.append((row, clip))
        row.persons, row.is_anomaly = [], False  # as a zone holding nobody would
        return row

    camera.window_hook = drop_everyone
    with FrameStream(video, maxsize=1000) as stream:  # read unpaced, every frame kept
        camera._watch(stream, 0.0)
    camera._tracker_alerts.close_open()
    worker.stop()
    windows = [e for _, e in events.since(0) if e["type"] == "window"]
    assert len(seen) == len(windows) >= 3
    assert all(clip.num_persons >= 1 and clip.source == "yard" for _, clip in seen)
    assert all(row.start_frame == clip.start_frame for row, clip in seen)
    assert not any(w["is_anomaly"] for w in windows) and store.alerts() == []  # the hook's rows are used
    assert camera.latest_frame is not None and camera.latest_frame.index >= seen[-1][0].end_frame - 1
    assert camera.latest_frame.jpeg[:2] == b"\xff\xd8"  # a JPEG to draw the page's tile from
    store.close()
