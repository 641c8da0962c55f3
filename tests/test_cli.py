"""The command line end to end on real SBU clips: fit, score, inspect, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from skelprompt.io import save_clips
from skelprompt.model import save_model, untrained_model
from tests.helpers import EXAMPLE_VIDEO, NORMAL_SBU, sbu_clips


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def sbu_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sbu")
    clips = sbu_clips()
    normal_dir = root / "normal"
    for c in clips:
        if c.meta["set"] not in ("s01s02", "s01s03") and c.label in NORMAL_SBU:
            save_clips(normal_dir / f"{str(c.frame_dir).replace('/', '_')}.npz", [c])
    test = [c for c in clips if c.meta["set"] in ("s01s02", "s01s03")]
    save_clips(root / "test.npz", test)
    model = root / "model.safetensors"
    save_model(model, untrained_model(seed=0))
    return root, normal_dir, root / "test.npz", model, test


@pytest.fixture(scope="module")
def fitted(sbu_files, tmp_path_factory):
    """A detector fitted with the CLI on the normal SBU clips, and the test clips scored with it."""
    root, normal_dir, test_file, model, test = sbu_files
    tmp = tmp_path_factory.mktemp("fitted")
    det = tmp / "det.safetensors"
    r = run_cli(
        "fit", str(normal_dir), "--model", str(model), "--out", str(det), "--false-alarm-rate", "0.05"
    )
    assert r.returncode == 0, r.stderr
    out = tmp / "scores.json"
    r = run_cli(
        "score", str(test_file), "--detector", str(det), "--prompt", "kicking another person",
        "--normal-prompt", "two people hugging", "--json", str(out), "--model", str(model),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return det, out, r.stdout


def test_fit_score_inspect_end_to_end(sbu_files, fitted) -> None:
    root, normal_dir, test_file, model, test = sbu_files
    det, out, stdout = fitted
    assert det.exists()
    data = json.loads(out.read_text())
    assert len(data["clips"]) == len(test)
    first = data["clips"][0]
    for key in ("source", "frame_dir", "anomaly", "ood", "prompt", "is_anomaly"):
        assert key in first
    assert first["source"].endswith("test.npz") and first["frame_dir"] == test[0].frame_dir
    assert data["prompts"] == ["kicking another person"]
    assert np.isfinite([c["anomaly"] for c in data["clips"]]).all()
    assert "threshold" in stdout
    r = run_cli("inspect", str(test_file))
    assert r.returncode == 0 and "openni15" in r.stdout


def test_clip_scores_json_follows_the_schema_and_round_trips(fitted) -> None:
    import jsonschema

    from skelprompt.detector import Detector
    from skelprompt.footage import ClipResult, detector_checksum, from_json, to_json
    from tests.helpers import validate_result_json

    det_path, out, _ = fitted
    data = json.loads(out.read_text())
    validate_result_json(data)
    det = Detector.load(det_path)
    assert data["detector"] == {
        "path": str(det_path),
        "checksum": detector_checksum(det),
        "normal_clips": det.info["num_normal_clips"],  # the clips that set the threshold
    }
    assert data["normal_prompts"] == ["two people hugging"] and data["schema_version"] == 1
    result = from_json(data)
    assert isinstance(result, ClipResult) and len(result.clips) == len(data["clips"])
    assert result.clips[0].frame_dir == data["clips"][0]["frame_dir"]
    assert json.loads(json.dumps(to_json(result, det, det_path))) == data
    broken = {**data, "clips": [{k: v for k, v in data["clips"][0].items() if k != "anomaly"}]}
    with pytest.raises(jsonschema.ValidationError):
        validate_result_json(broken)


def test_cli_errors_are_one_clear_line(sbu_files, fitted, tmp_path) -> None:
    root, normal_dir, test_file, model, _ = sbu_files
    det = fitted[0]
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00" * 100)
    cases = [
        (["score", str(garbage), "--detector", str(det)], "garbage.npz"),
        (["score", str(test_file), "--detector", str(model)], "not a skelprompt detector file"),
        (["score", str(test_file), "--detector", str(tmp_path / "nope.safetensors")], "no such file"),
        (
            ["fit", str(tmp_path / "missing"), "--untrained", "--out", str(tmp_path / "d2.safetensors")],
            "no such file",
        ),
        (
            [
                "fit",
                str(EXAMPLE_VIDEO),
                "--untrained",
                "--pose-backend",
                "nope",
                "--out",
                str(tmp_path / "d3.safetensors"),
            ],
            "unknown pose backend",
        ),
    ]
    save_model(tmp_path / "other.safetensors", untrained_model(seed=9))
    cases.append(
        (
            ["score", str(test_file), "--detector", str(det), "--model", str(tmp_path / "other.safetensors")],
            "another model",
        )
    )
    for args, expect in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert expect in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_cli_defaults_are_the_library_defaults() -> None:
    import inspect

    from skelprompt.commands.fit import fit
    from skelprompt.detector import DetectorConfig
    from skelprompt.footage import DEFAULT_LENGTH_S, DEFAULT_POSE_INPUT_SIZE, DEFAULT_STRIDE_S

    params = inspect.signature(fit).parameters
    cfg = DetectorConfig()
    for name in (
        "ood",
        "k",
        "ood_features",
        "symmetric",
        "prompt_weight",
        "normal_weight",
        "combine",
        "false_alarm_rate",
    ):
        assert params[name].default == getattr(cfg, name), name
    assert params["window_length"].default == DEFAULT_LENGTH_S
    assert params["window_stride"].default == DEFAULT_STRIDE_S
    assert params["input_size"].default == DEFAULT_POSE_INPUT_SIZE


def test_help_everywhere() -> None:
    for args in (["--help"], ["fit", "--help"], ["score", "--help"], ["inspect", "--help"]):
        r = run_cli(*args)
        assert r.returncode == 0 and "Usage" in r.stdout


def test_data_export_feeds_fit_and_score(tmp_path) -> None:
    from skelprompt.io import load_clips
    from tests.helpers import DATA_ROOT

    out = tmp_path / "kicks.npz"
    r = run_cli("data", "export", "sbu", "--data-root", str(DATA_ROOT), "-l", "kicking", "--out", str(out))
    assert r.returncode == 0, r.stderr
    clips = load_clips(out)
    assert len(clips) == 40 and {c.label for c in clips} == {"kicking"}  # SOURCE.md: 40 kicking sequences
    r = run_cli("data", "export", "sbu", "--data-root", str(DATA_ROOT), "-l", "flying", "--out", str(out))
    assert r.returncode == 2 and "no clip matches" in r.stderr
