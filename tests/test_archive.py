"""Archives: `skelprompt score --workers N` and `--ray` on short cuts of the example video,
with a detector fitted on another cut. Worker processes, a worker killed mid-run and a local
Ray cluster are all real; the whole file takes about a minute on 2 cores (most of it is the
start-up of worker processes and of Ray)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.crashing_cli import CRASH_ENV, CRASH_MARKER_ENV
from tests.helpers import EXAMPLE_VIDEO, validate_result_json
from tests.test_cli_errors import assert_one_clear_line, run_main

CLIP_FRAMES = 20  # 2 s at 10 fps: short, so that worker and Ray start-up dominate


def _cut(src: Path, out: Path, start: int, frames: int) -> Path:
    """Frames [start, start + frames) of ``src`` as a new video (mp4v)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for _ in range(frames):
        ok, frame = cap.read()
        assert ok, f"{src}: frame {start} and on"
        if writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, cap.get(cv2.CAP_PROP_FPS), frame.shape[1::-1])
        writer.write(frame)
    assert writer is not None
    writer.release()
    cap.release()
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> SimpleNamespace:
    """Three short clips and a detector fitted on another part of the same street."""
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("cv2")
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.footage import FootageSettings, normal_footage
    from skelprompt.model import untrained_model

    tmp = tmp_path_factory.mktemp("archive")
    (tmp / "videos").mkdir()
    videos = [
        _cut(EXAMPLE_VIDEO, tmp / "videos" / f"street_{i}.mp4", i * CLIP_FRAMES, CLIP_FRAMES)
        for i in range(3)
    ]
    normal = _cut(EXAMPLE_VIDEO, tmp / "normal.mp4", 40, 40)
    footage = normal_footage([str(normal)], FootageSettings(1.0, 0.5), false_alarms_per_hour=1.0)
    det = Detector(untrained_model(seed=0), DetectorConfig(false_alarm_rate=footage.false_alarm_rate))
    det.fit(footage.clips)
    det.info.update(footage.info)
    det.save(tmp / "det.safetensors")
    return SimpleNamespace(tmp=tmp, videos=[str(v) for v in videos], det=str(tmp / "det.safetensors"))


def _score(a: SimpleNamespace, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`skelprompt score` in a subprocess (its workers are processes of their own); with
    ``env`` naming a video to crash on, the test-only CLI whose workers die on it once."""
    cli = "tests.crashing_cli" if env and CRASH_ENV in env else "skelprompt.cli"
    return subprocess.run(
        [sys.executable, "-m", cli, "score", *args, "--detector", a.det],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip


def _scores(path: Path) -> dict[str, list]:
    """Per video (by file name): every window's scores and persons, as written."""
    data = json.loads(path.read_text())
    validate_result_json(data)
    names = [Path(v["source"]).name for v in data["videos"]]
    assert len(names) == len(set(names)), f"a video appears twice: {names}"
    return {Path(v["source"]).name: v["windows"] for v in data["videos"]}


def _assert_same_scores(a: object, b: object) -> None:
    """Equal windows, persons and scores; floats to 1e-9 (thread counts differ between
    workers, and with them the order of floating-point sums)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same_scores(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same_scores(x, y)
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12)
    else:
        assert a == b


@pytest.fixture(scope="module")
def one_worker(archive) -> SimpleNamespace:
    """The reference scores, from one worker, in two runs sharing one JSONL: the first scores
    street_0 and dies on street_1 (no retries: an error entry, exit code 1); the second,
    given all three videos in a list file, skips street_0 and scores the other two."""
    jsonl, out = archive.tmp / "one.jsonl", archive.tmp / "one.json"
    env = {CRASH_ENV: "street_1.mp4", CRASH_MARKER_ENV: str(archive.tmp / "crash_no_retry")}
    first = _score(
        archive, *archive.videos[:2], "--workers", "1", "--retries", "0", "--jsonl", str(jsonl), env=env
    )
    lines_before = jsonl.read_text().splitlines()
    listed = archive.tmp / "videos.txt"
    listed.write_text(
        "# the street, cut in three\n" + "".join(f"videos/{Path(v).name}\n" for v in archive.videos)
    )
    resumed = _score(archive, f"@{listed}", "--workers", "1", "--jsonl", str(jsonl), "--json", str(out))
    assert resumed.returncode == 0, resumed.stderr
    return SimpleNamespace(jsonl=jsonl, json=out, first=first, lines_before=lines_before, resumed=resumed)


def test_a_video_whose_worker_always_dies_gets_an_error_entry(archive, one_worker) -> None:
    assert one_worker.first.returncode == 1, one_worker.first.stderr
    assert "2 videos: 1 scored, 1 failed" in one_worker.first.stdout
    head, scored, failed = (json.loads(x) for x in one_worker.lines_before)
    assert head["detector"]["path"] == archive.det and "footage" in head
    assert scored["source"] == archive.videos[0] and scored["windows"]
    assert failed == {
        "source": archive.videos[1],
        "error": "its worker process died on every try",
        "attempts": 1,
    }


def test_jsonl_resume_skips_the_videos_already_scored(archive, one_worker) -> None:
    r = one_worker.resumed
    assert "3 videos: 2 scored, 0 failed, 1 skipped" in r.stdout
    done = sorted(line.split("] ")[1].split(":")[0] for line in r.stderr.splitlines() if line.startswith("["))
    assert done == [str(archive.tmp / "videos" / n) for n in ("street_1.mp4", "street_2.mp4")]
    lines = one_worker.jsonl.read_text().splitlines()
    assert lines[:3] == one_worker.lines_before  # appended to, not rewritten
    sources = [Path(json.loads(x)["source"]).name for x in lines[1:]]
    assert sorted(sources) == ["street_0.mp4", "street_1.mp4", "street_1.mp4", "street_2.mp4"]
    data = json.loads(one_worker.json.read_text())
    assert data["errors"] == []  # street_1 failed in the first run, scored in the second: the last entry wins
    assert list(_scores(one_worker.json)) == ["street_0.mp4", "street_1.mp4", "street_2.mp4"]  # input order


def test_two_workers_with_one_killed_match_one_worker(archive, one_worker) -> None:
    """A worker exits (as if killed) on its first try at street_1.mp4: that video is tried
    again on a new worker, and every video is in the output once, scored as with one worker."""
    marker, out = archive.tmp / "crashed_once", archive.tmp / "two.json"
    env = {CRASH_ENV: "street_1.mp4", CRASH_MARKER_ENV: str(marker)}
    r = _score(archive, str(archive.tmp / "videos"), "--workers", "2", "--json", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert marker.exists(), "the fault injector did not fire: the retry was not tested"
    assert "3 videos: 3 scored, 0 failed" in r.stdout
    _assert_same_scores(_scores(out), _scores(one_worker.json))


def test_ray_cluster_with_two_workers_matches_local(archive, one_worker) -> None:
    pytest.importorskip("ray")
    out = archive.tmp / "ray.json"
    r = _score(archive, *archive.videos, "--ray", "local", "--workers", "2", "--json", str(out),
               env={"RAY_USAGE_STATS_ENABLED": "0"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    _assert_same_scores(_scores(out), _scores(one_worker.json))


def test_bad_archive_inputs_are_one_clear_line(archive, capsys, tmp_path) -> None:
    det = ["--detector", archive.det, "--workers", "2"]
    missing = str(tmp_path / "gone.mp4")
    assert_one_clear_line(run_main(capsys, "score", missing, *det), "gone.mp4", [missing])
    assert_one_clear_line(run_main(capsys, "score", "@" + str(tmp_path / "no.txt"), *det), "no.txt", [])
    listed = tmp_path / "list.txt"
    (tmp_path / "notes.md").write_text("not a video")
    listed.write_text("# two videos\n" + archive.videos[0] + "\nnotes.md\n")
    r = run_main(capsys, "score", f"@{listed}", *det)
    assert_one_clear_line(r, "list.txt:3", [])
    assert "not a video file" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_clear_line(run_main(capsys, "score", str(empty), *det), "no video files", [])
    r = run_main(capsys, "score", archive.videos[0], *det, "--render", str(tmp_path / "r.mp4"))
    assert_one_clear_line(r, "--render", [])
    r = run_main(capsys, "score", archive.videos[0], *det, "--jsonl", archive.videos[0])
    assert_one_clear_line(r, "would overwrite an input", [])
    size = Path(archive.videos[1]).stat().st_size
    r = run_main(capsys, "score", archive.videos[0], *det, "--jsonl", archive.videos[1])  # not a JSONL
    assert_one_clear_line(r, "cannot read it as a JSONL", [])
    assert Path(archive.videos[1]).stat().st_size == size


def test_a_jsonl_from_another_detector_is_refused(archive, capsys, tmp_path) -> None:
    other = tmp_path / "other.jsonl"
    head = {"schema_version": 1, "detector": {"path": "x", "checksum": "0" * 64, "normal_clips": 3}}
    other.write_text(json.dumps(head) + "\n")
    before = other.read_text()
    r = run_main(capsys, "score", archive.videos[0], "--detector", archive.det, "--workers", "1",
                 "--jsonl", str(other))  # fmt: skip
    assert_one_clear_line(r, "other.jsonl", [])
    assert "another" in r.stderr and other.read_text() == before


def test_base_install_does_not_import_ray() -> None:
    code = "import sys, skelprompt.cli, skelprompt.archive, skelprompt.commands.score; print('ray' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr


def test_a_partial_last_jsonl_line_is_dropped_and_that_video_redone(tmp_path) -> None:
    """A run killed while writing a line leaves half of it: the next run drops it (that video
    is scored again) and appends after the last whole line."""
    from skelprompt.archive.output import JsonlLog, video_key

    head: dict[str, Any] = {
        "schema_version": 1,
        "detector": {"path": "d", "checksum": "c", "normal_clips": 3},
    }
    done: dict[str, Any] = {"source": str(tmp_path / "a.mp4"), "windows": []}
    path = tmp_path / "run.jsonl"
    whole = json.dumps(head) + "\n" + json.dumps(done) + "\n"
    path.write_text(whole + '{"source": "b.mp4", "wind')
    log = JsonlLog(path, {**head, "detector": {**head["detector"], "path": "elsewhere/d"}})
    assert list(log.done) == [video_key(done["source"])] and path.read_text() == whole
    log.append({"source": "b.mp4", "error": "x", "attempts": 1})
    log.close()
    assert path.read_text().splitlines()[2] == '{"source": "b.mp4", "error": "x", "attempts": 1}'
