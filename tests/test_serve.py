"""`skelprompt serve` in process: a looping file camera, the page in Debian's Chromium, the
API against its schema, the token, and a webhook receiver that refuses the first tries."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service extra: pip install 'skelprompt[service]'")
import schemathesis  # noqa: E402
import uvicorn  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from skelprompt.service.app import create_app  # noqa: E402
from skelprompt.service.config import CameraSpec, ServiceConfig  # noqa: E402
from skelprompt.service.evidence import decode_jpeg  # noqa: E402
from skelprompt.service.service import Service  # noqa: E402
from skelprompt.service.tiles import draw_tracked  # noqa: E402
from tests.conftest import ALARMS_PER_HOUR, EXAMPLES, PROMPT  # noqa: E402

TOKEN = "test-token"
REFUSED_TRIES = 2  # the receiver answers 503 to the first tries of each alert
# the README's picture is refreshed only when asked (SKELPROMPT_DOCS_SCREENSHOT=1): a test run
# does not write into the checkout
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "serve.png"


class Receiver(BaseHTTPRequestHandler):
    tries: Counter[str] = Counter()
    accepted: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        Receiver.tries[key] += 1
        if Receiver.tries[key] <= REFUSED_TRIES:
            self.send_response(503)
        else:
            Receiver.accepted.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def get_json(url: str) -> Any:
    with urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def post(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = Request(url, data=json.dumps(body or {}).encode(), headers=headers, method="POST")
    try:
        with urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except HTTPError as e:
        return e.code, None


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def service(
    street_detector: Path, receiver: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("serve")
    db = folder / "alerts.sqlite"
    detector = folder / "street.safetensors"  # a copy: operator feedback goes beside it
    shutil.copy(street_detector, detector)
    config = ServiceConfig(
        detector=detector, cameras=[CameraSpec("yard", str(EXAMPLES / "sports2d_demo_cut.mp4"))],
        prompts=[PROMPT], db=str(db), token=TOKEN, webhook=receiver, pose_fps=5, loop=True,
        alarms_per_hour=ALARMS_PER_HOUR,
    )  # fmt: skip
    yield Service(config)


@pytest.fixture(scope="module")
def server_url(service: Service) -> Iterator[str]:
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(20)
    sock.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


def _closed_alert(url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts = get_json(f"{url}/api/alerts")
        done = [a for a in alerts if a["state"] == "closed" and a["clip_url"]]
        if done:
            return done[-1]
        time.sleep(0.1)
    raise AssertionError(f"no closed alert within {timeout} s")


def test_page_shows_cameras_and_alerts_plays_the_clip_and_acknowledges(
    page: Any, server_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _closed_alert(server_url)
    page.goto(server_url + "/")
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    expect(page.locator(".tile[data-camera=yard] h2")).to_have_text("yard")
    expect(page.locator(".tile[data-camera=yard] .status").first).to_contain_text("fps in", timeout=10_000)
    item = page.locator("li.alert[data-state=closed]").last
    expect(item).to_be_visible(timeout=30_000)
    expect(item.locator("img")).to_have_js_property("complete", True)
    assert item.locator("img").evaluate("i => i.naturalWidth") > 0  # the snapshot loaded
    item.locator("button.play").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#player'); return v.readyState >= 2 || v.error }"
    )
    assert page.evaluate("document.querySelector('#player').error") is None  # H.264 the browser plays
    page.wait_for_function("() => document.querySelector('#player').currentTime > 0.2", timeout=15_000)
    alert_id = item.get_attribute("data-id")
    item.locator("button.ack").click()
    expect(page.locator(f"li.alert[data-id='{alert_id}'] button.ack")).to_have_text("acknowledged")
    assert get_json(f"{server_url}/api/alerts/{alert_id}")["acknowledged"] is True
    page.wait_for_function("() => document.querySelector('#player').currentTime > 1.0", timeout=15_000)
    shot = DOCS_SCREENSHOT if os.environ.get("SKELPROMPT_DOCS_SCREENSHOT") else tmp_path / "serve.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def _open_page(page: Any, url: str) -> Any:
    from playwright.sync_api import expect

    page.goto(url + "/")
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    tile = page.locator(".tile[data-camera=yard]")
    expect(tile.locator("img.frame")).to_have_class(re.compile("loaded"), timeout=30_000)
    return tile


def test_tile_shows_the_latest_frame_with_skeletons(page: Any, server_url: str, service: Service) -> None:
    tile = _open_page(page, server_url)
    assert tile.locator("img.frame").evaluate("i => i.naturalWidth") > 100
    frame = service.cameras["yard"].latest_frame
    assert frame is not None and len(frame.ids) > 0  # the man on the box is tracked
    raw, drawn = decode_jpeg(frame.jpeg), decode_jpeg(draw_tracked(frame, "coco17"))
    changed = np.abs(drawn.astype(int) - raw.astype(int)).max(-1) > 60
    joints = frame.keypoints[frame.scores > 0.3]
    near = [
        changed[max(0, int(y) - 4) : int(y) + 5, max(0, int(x) - 4) : int(x) + 5].any() for x, y in joints
    ]
    assert len(joints) and np.mean(near) > 0.8  # the skeletons are drawn where the joints are


def test_operator_draws_zones_that_stay_and_apply(page: Any, server_url: str, service: Service) -> None:
    from playwright.sync_api import expect

    tile = _open_page(page, server_url)
    tile.locator("select.zone-kind").select_option("ignore")
    tile.locator("button.zone-draw").click()
    canvas = tile.locator("canvas.zones")
    box = canvas.bounding_box()
    corners = [(0.01, 0.01), (0.99, 0.01), (0.99, 0.99), (0.01, 0.99)]
    for fx, fy in corners:
        canvas.click(position={"x": fx * box["width"], "y": fy * box["height"]})
    tile.locator("button.zone-close").click()
    expect(tile.locator(".zone-msg")).to_contain_text("1 zone(s) saved")
    zones = get_json(f"{server_url}/api/cameras/yard/zones")["zones"]
    assert [z["kind"] for z in zones] == ["ignore"]
    np.testing.assert_allclose(zones[0]["points"], corners, atol=0.02)
    seen = service.events.last
    windows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(windows) < 6 and time.monotonic() < deadline:  # the whole picture ignored: no alert
        for seq, e in service.events.since(seen):
            seen = seq
            if e["type"] == "window" and e["camera"] == "yard":
                windows.append(e)
        time.sleep(0.1)
    assert len(windows) >= 6 and not any(w["is_anomaly"] for w in windows)
    page.reload()
    page.wait_for_function("() => (zones.yard || []).length === 1")  # read back from the server
    page.locator(".tile[data-camera=yard] button.zone-clear").click()
    expect(page.locator(".tile[data-camera=yard] .zone-msg")).to_contain_text("0 zone(s) saved")
    assert get_json(f"{server_url}/api/cameras/yard/zones")["zones"] == []


def test_operator_marks_a_false_alarm_and_undoes_it(page: Any, server_url: str, service: Service) -> None:
    from playwright.sync_api import expect

    first = _closed_alert(server_url)
    _open_page(page, server_url)
    page.fill("#operator", "tester")
    page.dispatch_event("#operator", "change")
    item = page.locator(f"li.alert[data-id='{first['id']}']")
    normal = len(service.scorer.det._check_fitted()[0])
    item.locator("button.false-alarm").click()
    expect(item.locator(".verdict")).to_have_text("false alarm (tester)", timeout=30_000)
    assert len(service.scorer.det._check_fitted()[0]) > normal  # its windows are normal now
    record = get_json(f"{server_url}/api/feedback")[-1]
    assert record["by"] == "tester" and record["alert_id"] == first["id"] and record["in_force"]
    item.locator("button.undo").click()
    expect(item.locator("button.false-alarm")).to_be_visible(timeout=30_000)
    assert len(service.scorer.det._check_fitted()[0]) == normal
    assert get_json(f"{server_url}/api/alerts/{first['id']}")["feedback"] is None


def test_changes_need_the_token(server_url: str) -> None:
    body = {"prompts": ["a person falling down", "people fighting"], "alarms_per_hour": 2.0}
    url = f"{server_url}/api/cameras/yard/prompts"
    assert post(url, body)[0] == 401
    assert post(url, body, token="wrong")[0] == 401
    assert post(f"{server_url}/api/alerts/1/ack")[0] == 401
    assert post(f"{server_url}/api/alerts/1/feedback", {"verdict": "false_alarm"})[0] == 401
    assert post(f"{server_url}/api/feedback/1/undo", {})[0] == 401
    status, cam = post(url, body, token=TOKEN)
    assert status == 200 and cam["prompts"] == body["prompts"] and cam["alarms_per_hour"] == 2.0
    cam = get_json(f"{server_url}/api/cameras")[0]
    assert cam["prompts"] == body["prompts"]


def test_webhook_gets_each_alert_once_after_refusals(server_url: str, service: Service) -> None:
    first = _closed_alert(server_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and first["id"] not in {b["id"] for b in Receiver.accepted}:
        time.sleep(0.05)
    ids = [b["id"] for b in Receiver.accepted]
    assert first["id"] in ids
    assert len(ids) == len(set(ids)), f"an alert delivered twice: {ids}"
    assert Receiver.tries[f"alert-{first['id']}"] == REFUSED_TRIES + 1
    body = next(b for b in Receiver.accepted if b["id"] == first["id"])
    assert body["event"] == "alert" and body["camera"] == "yard" and body["clip_url"]


@pytest.fixture(scope="module")
def api_schema(service: Service, server_url: str) -> Any:
    """The API's schema over the running service, called in process (alerts exist by then)."""
    _closed_alert(server_url)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service, start=False))


def test_api_matches_its_schema(api_schema: Any) -> None:
    """No 5xx, every answer as documented (the changes with the token, so they do change)."""
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 8
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

        check()
