"""Operator feedback and zones in `skelprompt serve` as a command: a verdict given over the API
survives `kill -9` and a restart, so does its undo, so do the zones."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from tests.test_serve_cli import _free_port, _get, _start, _wait_for

pytest.importorskip("fastapi", reason="the service extra: pip install 'skelprompt[service]'")


def _send(url: str, body: dict[str, Any], method: str = "POST") -> Any:
    req = Request(
        url,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer t"},
        method=method,
    )
    with urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_feedback_and_zones_survive_kill_and_undo(street_detector: Path, tmp_path: Path) -> None:
    det = tmp_path / "street.safetensors"
    shutil.copy(street_detector, det)  # the feedback file goes beside it
    db = tmp_path / "alerts.sqlite"
    port = _free_port()
    proc = _start(det, db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        alerts = _wait_for(f"{base}/api/alerts", lambda a: any(x["state"] == "closed" for x in a))
        alert = next(x for x in alerts if x["state"] == "closed")
        zone = {"kind": "ignore", "points": [[0.0, 0.0], [0.25, 0.0], [0.25, 0.5]]}
        _send(f"{base}/api/cameras/yard/zones", {"zones": [zone]}, "PUT")
        got = _send(f"{base}/api/alerts/{alert['id']}/feedback", {"verdict": "false_alarm", "by": "alice"})
        assert got["feedback"]["verdict"] == "false_alarm" and got["feedback"]["windows"] > 0
    finally:
        _kill(proc)  # at once after the answer: the verdict must be on disk already
    port = _free_port()
    proc = _start(det, db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        after = _wait_for(f"{base}/api/alerts/{alert['id']}", lambda a: a["feedback"] is not None)
        fb = after["feedback"]
        assert fb["by"] == "alice" and fb["in_force"] and fb["alert_id"] == alert["id"]
        assert _get(f"{base}/api/cameras/yard/zones")["zones"] == [zone]
        undo = _send(f"{base}/api/feedback/{fb['id']}/undo", {"by": "bob"})
        assert undo["undoes"] == fb["id"] and undo["by"] == "bob"
    finally:
        _kill(proc)
    port = _free_port()
    proc = _start(det, db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        again = _wait_for(f"{base}/api/alerts/{alert['id']}", lambda a: True)
        assert again["feedback"] is None  # undone, after a kill
        records = _get(f"{base}/api/feedback")
        assert [(r["verdict"], r["by"], r["in_force"]) for r in records] == [
            ("false_alarm", "alice", False), ("undo", "bob", False)
        ]  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
