"""`skelprompt feedback` on real SBU clips: a false alarm joins the normal set (its score drops,
the threshold follows), the record is listed and undone (scores as before), and bad input
(a tampered feedback file, a bad reference, bad results) is one line with exit code 2."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from skelprompt.cli import main
from skelprompt.clip import Clip
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.feedback import (
    FALSE_ALARM,
    FeedbackLog,
    load_with_feedback,
    sidecar_path,
    window_features,
    with_feedback,
)
from skelprompt.io import save_clips
from skelprompt.model import untrained_model
from tests.helpers import NORMAL_SBU, sbu_clips


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The command line in this process (each call loads the detector, no interpreter start)."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


@pytest.fixture(scope="module")
def sbu_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Clip]]:
    """A detector fitted on SBU's normal clips (untrained encoder: fast) and the test clips."""
    root = tmp_path_factory.mktemp("sbu")
    clips = sbu_clips()
    normal = [c for c in clips if c.meta["set"] not in ("s01s02", "s01s03") and c.label in NORMAL_SBU]
    test = [c for c in clips if c.meta["set"] in ("s01s02", "s01s03")]
    save_clips(root / "test.npz", test)
    det = Detector(untrained_model(seed=0), DetectorConfig(false_alarm_rate=0.05)).fit(normal)
    det.save(root / "det.safetensors")
    return root / "det.safetensors", root / "test.npz", test


@pytest.fixture()
def own_detector(sbu_files: tuple[Path, Path, list[Clip]], tmp_path: Path) -> Path:
    det = tmp_path / "det.safetensors"
    shutil.copy(sbu_files[0], det)
    return det


def _score(run_cli: Callable[..., Ran], det: Path, test_file: Path, out: Path) -> dict:
    r = run_cli(
        "score",
        str(test_file),
        "--detector",
        str(det),
        "--prompt",
        "kicking another person",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


def test_false_alarm_joins_the_normal_set_and_undo_restores(
    run_cli, sbu_files, own_detector: Path, tmp_path: Path
) -> None:
    test_file, test = sbu_files[1], sbu_files[2]
    before = _score(run_cli, own_detector, test_file, tmp_path / "before.json")
    normal = [
        i
        for i, c in enumerate(test)
        if c.label in ("hugging", "shaking hands", "approaching", "departing", "exchanging")
    ]
    worst = max(normal, key=lambda i: before["clips"][i]["anomaly"])  # the normal clip ranked most anomalous
    r = run_cli("feedback", str(own_detector), "--results", str(tmp_path / "before.json"),
                "--false-alarm", str(worst + 1), "--by", "alice", "--note", "hugging, not fighting")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "record 1: false alarm" in r.stdout
    assert sidecar_path(own_detector).is_file()
    after = _score(run_cli, own_detector, test_file, tmp_path / "after.json")
    assert after["clips"][worst]["ood"] < 0.5 * before["clips"][worst]["ood"]  # it is normal now
    assert after["threshold"] != before["threshold"]  # the threshold follows the normal set
    assert after["detector"]["checksum"] != before["detector"]["checksum"]
    assert after["detector"]["normal_clips"] == before["detector"]["normal_clips"] + 1
    r = run_cli("feedback", str(own_detector), "--list")
    assert r.returncode == 0 and "alice" in r.stdout and "in force" in r.stdout
    r = run_cli("feedback", str(own_detector), "--undo", "1", "--by", "bob")
    assert r.returncode == 0, r.stderr
    undone = _score(run_cli, own_detector, test_file, tmp_path / "undone.json")
    np.testing.assert_allclose(
        [c["anomaly"] for c in undone["clips"]], [c["anomaly"] for c in before["clips"]]
    )
    assert undone["threshold"] == pytest.approx(before["threshold"])
    assert undone["detector"]["checksum"] == before["detector"]["checksum"]
    r = run_cli("feedback", str(own_detector), "--list")
    assert "undone" in r.stdout and "bob" in r.stdout


def _one_line_error(r: Ran, *expected: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for e in expected:
        assert e in r.stderr, r.stderr


def test_bad_input_is_one_line(run_cli, sbu_files, own_detector: Path, tmp_path: Path) -> None:
    test_file = sbu_files[1]
    results = tmp_path / "scores.json"
    _score(run_cli, own_detector, test_file, results)
    _one_line_error(run_cli("feedback", str(own_detector)), "--false-alarm")
    _one_line_error(run_cli("feedback", str(own_detector), "--false-alarm", "1"), "--results")
    _one_line_error(
        run_cli("feedback", str(own_detector), "-r", str(results), "--false-alarm", "9999"), "9999"
    )
    _one_line_error(
        run_cli("feedback", str(own_detector), "-r", str(results), "--false-alarm", "no-such-clip"),
        "no-such-clip",
    )
    not_json = tmp_path / "x.json"
    not_json.write_text("{oops")
    _one_line_error(run_cli("feedback", str(own_detector), "-r", str(not_json), "-f", "1"), str(not_json))
    _one_line_error(run_cli("feedback", str(own_detector), "--undo", "3"), "no feedback record 3")
    assert run_cli("feedback", str(own_detector), "-r", str(results), "-t", "2").returncode == 0
    _one_line_error(run_cli("feedback", str(own_detector), "-r", str(results), "-f", "2"), "already recorded")
    # tamper: the records say someone else gave the verdict, the checksum is the old one
    side = sidecar_path(own_detector)
    with safe_open(str(side), "np") as f:
        meta = dict(f.metadata())
    meta["records"] = meta["records"].replace('"by": "', '"by": "mallory ')
    save_file(load_file(str(side)), str(side), metadata=meta)
    _one_line_error(run_cli("feedback", str(own_detector), "--list"), str(side), "checksum")
    _one_line_error(run_cli("score", str(test_file), "--detector", str(own_detector)), str(side), "checksum")


def test_feedback_needs_its_own_detector(sbu_files, tmp_path: Path) -> None:
    """A sidecar copied beside another detector is refused, not applied to it."""
    det = Detector.load(sbu_files[0])
    clips = [c for c in sbu_clips() if c.label == "hugging"][:2]
    log = FeedbackLog("0" * 64)
    log.add(FALSE_ALARM, window_features(det, clips), "t", {"ref": "x"})
    assert len(with_feedback(det, log)._check_fitted()[0]) == len(det._check_fitted()[0]) + 2
    path = tmp_path / "det.safetensors"
    shutil.copy(sbu_files[0], path)
    log.save(sidecar_path(path))
    with pytest.raises(Exception, match="belongs to another detector"):
        load_with_feedback(path)


def test_video_references_pick_the_windows_scored(sbu_files) -> None:
    """A video's alert span or time range names the windows `score` cut; the clips rebuilt
    from the tracked video are those windows (a real SBU clip stands for a tracked video)."""
    from skelprompt.errors import SkelpromptError
    from skelprompt.footage.feedback_windows import video_selection
    from skelprompt.footage.scoring import score_video_clip

    det = Detector.load(sbu_files[0])
    clip = max(sbu_files[2], key=lambda c: c.num_frames)
    result = score_video_clip(det, clip, length_s=1.0, stride_s=0.5, false_alarm_rate=0.5)
    assert result.alert_spans, "no alert to refer to"
    span = result.alert_spans[0]
    sel = video_selection(result, "alert:1", lambda: clip, "r.json")
    inside = [w for w in result.windows if w.start_s >= span.start_s and w.end_s <= span.end_s]
    assert sel.about["alert"] == 1 and len(sel.clips) >= len(inside) > 0
    feats = window_features(det, sel.clips)
    whole = det.score(sel.clips[:1]).ood[0]
    assert whole == pytest.approx(inside[0].ood)  # the same window
    assert len(feats) == len(sel.clips)
    ranged = video_selection(result, f"{inside[0].start_s}-{inside[0].end_s}", lambda: clip, "r.json")
    assert len(ranged.clips) >= 1
    for bad in ("alert:9", "3-1", "soon"):
        with pytest.raises(SkelpromptError):
            video_selection(result, bad, lambda: clip, "r.json")
