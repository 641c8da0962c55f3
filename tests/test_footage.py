"""Footage: windows (when), persons (who), fitting from video, live scoring, pictures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.footage.windows import cut_windows, normal_windows, window_bounds

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "skelprompt" / "examples" / "vtest_8s.mp4"


def test_window_bounds_cover_the_timeline() -> None:
    b = window_bounds(100, fps=10, length_s=2.0, stride_s=0.5)
    assert b[0] == (0, 20) and b[1] == (5, 25)
    assert b[-1][1] == 100  # the tail is covered
    assert all(e - s == 20 for s, e in b)
    assert window_bounds(7, fps=10, length_s=2.0, stride_s=0.5) == [(0, 7)]


def test_windows_carry_times_and_persons() -> None:
    rng = np.random.default_rng(0)
    kp = rng.random((2, 60, 17, 2)) * 100
    sc = np.ones((2, 60, 17))
    sc[1, :30] = 0  # person 1 appears at frame 30
    clip = Clip.create(kp, sc, fps=15.0, track_ids=np.array([7, 9]), start_frame=30)
    ws = cut_windows(clip, length_s=1.0, stride_s=1.0)
    assert [(w.start_frame, w.end_frame) for w in ws] == [(0, 15), (15, 30), (30, 45), (45, 60)]
    assert ws[0].start_s == pytest.approx(2.0) and ws[0].end_s == pytest.approx(3.0)  # offset by start_frame
    assert [tid for tid, _ in ws[0].persons] == [7]
    assert [tid for tid, _ in ws[3].persons] == [7, 9]
    assert all(p.num_persons == 1 for _, p in ws[3].persons)
    assert (
        len(normal_windows([clip], 1.0, 1.0)) == 4 + 2 * 2
    )  # 4 whole windows + 2 persons in each of the last two


def test_clip_without_fps_is_a_clear_error() -> None:
    from skelprompt.errors import ClipError

    clip = Clip.create(np.random.default_rng(0).random((1, 20, 17, 2)), source="nofps.npz")
    with pytest.raises(ClipError, match="nofps.npz: the clip has no frame rate"):
        cut_windows(clip)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_fit_on_video_then_score_video_with_pictures(tmp_path) -> None:
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("cv2")
    import cv2

    det = tmp_path / "street.safetensors"
    r = _cli(
        "fit", str(EXAMPLE), "--untrained", "--out", str(det), "--window-length", "2", "--window-stride", "1"
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "scores.json"
    r = _cli(
        "score", str(EXAMPLE), "--detector", str(det), "--prompt", "a person falling down",
        "--json", str(out), "--plot", str(tmp_path / "s.png"), "--render", str(tmp_path / "s.mp4"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["fps"] == pytest.approx(10, abs=0.5)
    ws = res["windows"]
    assert ws[0]["start_s"] == 0 and ws[0]["end_s"] == pytest.approx(2.0)
    assert ws[1]["start_s"] == pytest.approx(1.0)
    assert any(len(w["persons"]) >= 1 for w in ws)
    p = next(p for w in ws for p in w["persons"])
    assert {"track_id", "box", "anomaly", "is_anomaly"} <= set(p) and len(p["box"]) == 4
    assert res["video_score"] == max(w["anomaly"] for w in ws if w["anomaly"] is not None)
    # a video scored against its own normal footage raises (almost) no alert at 1 alarm/hour
    assert sum(w["is_anomaly"] for w in ws) <= 2
    cap = cv2.VideoCapture(str(tmp_path / "s.mp4"))
    src = cv2.VideoCapture(str(EXAMPLE))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == int(src.get(cv2.CAP_PROP_FRAME_COUNT))
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == int(src.get(cv2.CAP_PROP_FRAME_WIDTH))
    assert (tmp_path / "s.png").stat().st_size > 10_000
    # live path on the same file: bounded, one JSON line per window
    lines = tmp_path / "live.jsonl"
    r = _cli(
        "score", str(EXAMPLE), "--detector", str(det), "--live", "--jsonl", str(lines), "--max-frames", "60"
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in lines.read_text().splitlines()]
    assert len(rows) >= 3 and all("dropped_frames" in x and "anomaly" in x for x in rows)
    assert rows[1]["start_s"] > rows[0]["start_s"] and rows[1]["start_frame"] > 0
