"""`skelprompt serve` as a command: bad inputs in one line with exit code 2, and alerts that
survive `kill -9` and a restart on the same database, none written twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests.conftest import ALARMS_PER_HOUR, EXAMPLES, PROMPT

pytest.importorskip("fastapi", reason="the service extra: pip install 'skelprompt[service]'")
CAMERA = f"yard={EXAMPLES / 'sports2d_demo_cut.mp4'}"


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "skelprompt.cli", "serve", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_inputs_fail_in_one_line(street_detector: Path, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    bad_detector = tmp_path / "bad.safetensors"
    bad_detector.write_bytes(b"not a detector")
    port = str(_free_port())
    cases = {
        "no-such.mp4": ["--detector", str(street_detector), "--camera", f"a={tmp_path / 'no-such.mp4'}"],
        "NAME=SOURCE": ["--detector", str(street_detector), "--camera", "just-a-name"],
        str(bad_detector): ["--detector", str(bad_detector), "--camera", CAMERA, "--port", port],
        "cannot listen": ["--detector", str(street_detector), "--camera", CAMERA, "--port", str(taken.getsockname()[1])],
    }  # fmt: skip
    try:  # the cases run side by side: each is a process of its own
        procs = {
            expected: subprocess.Popen(
                _serve(*args, "--db", str(tmp_path / "a.sqlite")),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for expected, args in cases.items()
        }
        for expected, proc in procs.items():
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 2, (expected, stderr)
            assert expected in stderr and "Traceback" not in stderr, stderr
            assert len(stderr.strip().splitlines()) == 1, stderr
    finally:
        taken.close()


def _get(url: str) -> Any:
    with urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _start(detector: Path, db: Path, port: int) -> subprocess.Popen[bytes]:
    args = ["--detector", str(detector), "--camera", CAMERA, "--prompt", PROMPT,
            "--db", str(db), "--port", str(port), "--pose-fps", "5", "--loop", "--token", "t",
            "--alarms-per-hour", str(ALARMS_PER_HOUR)]  # fmt: skip
    return subprocess.Popen(_serve(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(url: str, ready: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = _get(url)
            if ready(value):
                return value
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}: not ready in {timeout} s")


def test_alerts_survive_kill_and_restart(street_detector: Path, tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    port = _free_port()
    proc = _start(street_detector, db, port)
    try:
        url = f"http://127.0.0.1:{port}/api/alerts"
        before = _wait_for(url, lambda a: any(x["state"] == "closed" for x in a))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    port = _free_port()
    proc = _start(street_detector, db, port)
    try:
        after = _wait_for(f"http://127.0.0.1:{port}/api/alerts?limit=1000", lambda a: len(a) >= len(before))
        by_id = {a["id"]: a for a in after}
        for a in before:  # every alert seen before the kill is there, with its evidence
            assert a["id"] in by_id and by_id[a["id"]]["start_s"] == a["start_s"]
            if a["state"] == "closed":
                clip = urlopen(f"http://127.0.0.1:{port}{a['clip_url']}", timeout=10)
                assert clip.headers["Content-Type"] == "video/mp4" and len(clip.read()) > 1000
        assert all(by_id[a["id"]]["state"] != "open" for a in before if a["state"] == "open")
    finally:
        proc.terminate()
        proc.wait(30)
    with sqlite3.connect(db) as con:  # no alert written twice
        keys = [k for (k,) in con.execute("select key from alerts")]
        outbox = [i for (i,) in con.execute("select alert_id from webhook_outbox")]
    assert len(keys) == len(set(keys)) and len(outbox) == len(set(outbox))
