"""Footage: windows (when), persons (who), fitting from video, live scoring, pictures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.footage.windows import cut_windows, normal_windows, window_bounds
from tests.helpers import EXAMPLE_VIDEO

EXAMPLE = EXAMPLE_VIDEO


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


def test_alert_spans_merge_windows_and_print_as_a_table() -> None:
    from rich.console import Console

    from skelprompt.commands.tables import alert_span_table
    from skelprompt.footage import AlertSpan, PersonScore, WindowScore, alert_spans

    def person(tid: int, a: float, alert: bool) -> PersonScore:
        return PersonScore(tid, [0.0, 0.0, 1.0, 1.0], a, a, 0.0, alert)

    rows = [
        WindowScore(0, 20, 0.0, 2.0, 0.1, 0.1, 0.0, False, [person(1, 0.1, False)]),
        WindowScore(10, 30, 1.0, 3.0, 0.9, 0.9, 0.0, True, [person(3, 0.8, True), person(1, 0.2, False)]),
        WindowScore(20, 40, 2.0, 4.0, 1.4, 1.4, 0.0, True, [person(5, 1.1, True)]),
        WindowScore(50, 70, 5.0, 7.0, 0.7, 0.7, 0.0, True, []),
    ]
    spans = alert_spans(rows, gap_s=0.0)
    assert spans == [AlertSpan(1.0, 4.0, 1.4, [3, 5]), AlertSpan(5.0, 7.0, 0.7, [])]
    # the default gap: a window starting 1 s after the span's end continues it (flicker)
    assert alert_spans(rows) == [AlertSpan(1.0, 7.0, 1.4, [3, 5])]
    # only the whole scene alerts: the span names its most anomalous person, not nobody
    scene_only = WindowScore(
        0, 20, 0.0, 2.0, 1.2, 1.2, 0.0, True, [person(4, 0.6, False), person(2, 0.3, False)]
    )
    assert alert_spans([scene_only]) == [AlertSpan(0.0, 2.0, 1.2, [4])]
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(alert_span_table(spans))
    text = console.export_text()
    assert "peak" in text and "people" in text and "{" not in text  # a table, not dicts
    lines = [ln for ln in text.splitlines() if "1.400" in ln or "0.700" in ln]
    assert len(lines) == 2 and "#3, #5" in lines[0] and "1.0" in lines[0] and "4.0" in lines[0]
    assert "whole scene" in lines[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> SimpleNamespace:
    """A detector fitted on the example video, and that video scored with it: once per module."""
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("cv2")
    tmp = tmp_path_factory.mktemp("street")
    det = tmp / "street.safetensors"
    r = _cli(
        "fit", str(EXAMPLE), "--untrained", "--out", str(det), "--window-length", "2", "--window-stride", "1"
    )
    assert r.returncode == 0, r.stderr
    # 1 alarm per hour at a 1 s stride is 1 in 3600 windows: 8 s of video cannot set that threshold
    (warning,) = warnings_in(r.stderr)
    assert "needs at least 3600" in warning and "at least 60 min of footage" in warning
    out = tmp / "scores.json"
    r = _cli(
        "score", str(EXAMPLE), "--detector", str(det), "--prompt", "a person falling down",
        "--json", str(out), "--plot", str(tmp / "s.png"), "--render", str(tmp / "s.mp4"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(tmp=tmp, det=det, json=out, stdout=r.stdout, png=tmp / "s.png", mp4=tmp / "s.mp4")


@pytest.mark.slow
def test_fit_on_video_then_score_video_with_pictures(street) -> None:
    import cv2

    res = json.loads(street.json.read_text())
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
    # alert spans print as a table (or say there are none), never as Python dicts
    assert ("peak" in street.stdout) == bool(res["alert_spans"]) and "{'start_s'" not in street.stdout
    cap = cv2.VideoCapture(str(street.mp4))
    src = cv2.VideoCapture(str(EXAMPLE))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == int(src.get(cv2.CAP_PROP_FRAME_COUNT))
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == int(src.get(cv2.CAP_PROP_FRAME_WIDTH))
    assert street.png.stat().st_size > 10_000


@pytest.mark.slow
def test_video_json_follows_the_schema_and_round_trips(street) -> None:
    import jsonschema

    from skelprompt.detector import Detector
    from skelprompt.footage import VideoResult, detector_checksum, from_json, to_json
    from tests.helpers import validate_result_json

    data = json.loads(street.json.read_text())
    validate_result_json(data)
    det = Detector.load(street.det)
    assert det.info["pose_backend"] == "movenet" and det.info["pose_input_size"] == 256
    assert data["detector"] == {
        "path": str(street.det),
        "checksum": detector_checksum(det),
        "normal_clips": det.info["num_normal_clips"],  # the windows that set the threshold
    }
    assert data["prompts"] == ["a person falling down"] and data["schema_version"] == 1
    result = from_json(data)
    assert (
        isinstance(result, VideoResult)
        and result.windows[0].persons[0].track_id == data["windows"][0]["persons"][0]["track_id"]
    )
    assert json.loads(json.dumps(to_json(result, det, street.det))) == data
    broken = {**data, "windows": [{**data["windows"][0], "anomaly": "high"}]}
    with pytest.raises(jsonschema.ValidationError):
        validate_result_json(broken)


@pytest.mark.slow
def test_live_scoring_writes_one_line_per_window(street) -> None:
    lines = street.tmp / "live.jsonl"
    r = _cli(
        "score",
        str(EXAMPLE),
        "--detector",
        str(street.det),
        "--live",
        "--jsonl",
        str(lines),
        "--max-frames",
        "60",
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in lines.read_text().splitlines()]
    # paced like a camera: a loaded machine drops frames, and so scores fewer of the windows
    assert len(rows) >= 2 and all("dropped_frames" in x and "anomaly" in x for x in rows)
    assert all(a["dropped_frames"] <= b["dropped_frames"] for a, b in zip(rows[:-1], rows[1:], strict=True))
    assert rows[1]["start_s"] > rows[0]["start_s"] and rows[1]["start_frame"] > 0


# --- live windows on the real frames, drops counted; truncated files ------------------------


@pytest.fixture(scope="module")
def sbu_detector():
    """A detector fitted on real SBU clips (an untrained encoder: fast, and enough to score)."""
    from skelprompt.detector import Detector
    from skelprompt.model import untrained_model
    from tests.helpers import sbu_clips

    return Detector(untrained_model(seed=0)).fit([c for c in sbu_clips() if c.label == "hugging"][:12])


def _no_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name}")


def logged_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The library's warnings logged since the last call (the CLI shows them on stderr)."""
    out = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.startswith("skelprompt")
    ]
    caplog.clear()
    return out


def warnings_in(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.startswith("warning:")]


class RecordedStream:
    """A real FrameStream whose frames' source indices are noted as they are taken; the consumer
    waits ``delay`` s after each frame, so it is slower than the reader on any machine."""

    def __init__(self, stream, delay: float = 0.0) -> None:
        self.stream, self.fps, self.size, self.reader = stream, stream.fps, stream.size, stream.reader
        self.indices: list[int] = []
        self.delay = delay

    def __iter__(self):
        for frame in self.stream:
            self.indices.append(frame.index)
            yield frame
            time.sleep(self.delay)


def test_live_windows_span_the_real_frames_when_frames_drop(sbu_detector, tmp_path) -> None:
    pytest.importorskip("ai_edge_litert")
    from skelprompt.footage import FootageLoop, FootageSettings, TrackedPeople, score_live
    from skelprompt.video.pose import get_backend
    from skelprompt.video.stream import FrameStream

    length = 3  # frames: 0.3 s at the example's 10 fps; stride 0.1 s = 1 frame
    # the file plays at 20 fps (4 s) and the consumer takes at most 10 frames a second, so frames
    # drop however fast the machine is, and start-up (pose model loading) has seconds of slack
    with FrameStream(EXAMPLE_VIDEO, maxsize=4, realtime=True, speed=2.0) as stream:
        rec = RecordedStream(stream, delay=0.1)
        loop: FootageLoop[TrackedPeople] = FootageLoop(
            get_backend(input_size=256), stream.fps, 0.3, 0.1, img_shape=stream.size
        )
        spans = []
        for window in loop.windows(rec):
            taken = rec.indices[-length:]  # the window's frames: the last ones taken
            clip = loop.window_clip(window)
            assert clip is None or clip.start_frame == window[0].index  # None: nobody detected
            spans.append((window[0].index, window[-1].index + 1, taken[0], taken[-1] + 1))
    assert stream.dropped > 0 and len(spans) >= 2
    for start, end, first, past_last in spans:
        assert (start, end) == (first, past_last)
    assert any(end - start > length for start, end, _, _ in spans)  # a window over dropped frames

    lines = tmp_path / "live.jsonl"
    s = score_live(
        sbu_detector, str(EXAMPLE_VIDEO), FootageSettings(0.3, 0.1, 256), jsonl=lines, queue_size=4
    )
    rows = [json.loads(x, parse_constant=_no_constant) for x in lines.read_text().splitlines()]
    assert s.frames_read == 80 and s.dropped_frames > 0 and s.windows == len(rows) >= 1
    assert s.frames_scored + s.dropped_frames == s.frames_read  # every frame scored or dropped
    assert max(r["dropped_frames"] for r in rows) <= s.dropped_frames
    assert all(r["end_frame"] - r["start_frame"] >= length for r in rows)
    times = [t for r in rows for t in (r["start_s"], r["end_s"])]
    assert times == pytest.approx([f / 10 for r in rows for f in (r["start_frame"], r["end_frame"])])


def _truncated_copy(path: Path) -> Path:
    """The example video with its index first and the second half of its frame data cut off:
    the header still announces 80 frames, the decoder finds fewer."""
    av = pytest.importorskip("av")
    whole = path.with_name("whole.mp4")
    with (
        av.open(str(EXAMPLE_VIDEO)) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_video_is_read_with_a_warning(tmp_path, caplog) -> None:
    pytest.importorskip("cv2")
    from skelprompt.video.reader import open_video
    from skelprompt.video.stream import FrameStream

    cut = _truncated_copy(tmp_path / "cut.mp4")
    with open_video(cut) as reader:  # the offline path (score VIDEO, fit, extract)
        n = sum(1 for _ in reader)
    assert 0 < n < 80 and reader.frames_missing == 80 - n
    (warning,) = logged_warnings(caplog)
    assert "cut.mp4" in warning and f"{n} of the 80 frames" in warning
    with FrameStream(cut, maxsize=100) as stream:  # the live path
        assert sum(1 for _ in stream) == n
    (warning,) = logged_warnings(caplog)
    assert f"{n} of the 80 frames" in warning
    with open_video(EXAMPLE_VIDEO) as reader:  # a whole file: no warning
        assert sum(1 for _ in reader) == 80 and reader.frames_missing == 0
    with open_video(cut, max_frames=10) as reader:  # stopped early on purpose: no warning
        assert sum(1 for _ in reader) == 10
    assert not logged_warnings(caplog)


def test_cli_reads_a_truncated_video_with_one_warning(tmp_path) -> None:
    pytest.importorskip("ai_edge_litert")
    cut = _truncated_copy(tmp_path / "cut.mp4")
    r = _cli("extract", str(cut), "--out", str(tmp_path / "c.npz"), "-q")
    assert r.returncode == 0, r.stderr
    (warning,) = warnings_in(r.stderr)
    assert "cut.mp4" in warning and "of the 80 frames" in warning
