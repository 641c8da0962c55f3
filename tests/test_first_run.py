"""What a new user meets first, with nothing outside the repository: the checked pose model,
the shipped example clip and commands that print no runtime banners."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import skelprompt
from skelprompt.errors import ModelError

EXAMPLE_CUT = Path(skelprompt.__file__).resolve().parent / "examples" / "sports2d_demo_cut.mp4"


def _require_pose() -> None:
    pytest.importorskip("cv2", reason="OpenCV missing: pip install opencv-python-headless")
    pytest.importorskip("ai_edge_litert", reason="LiteRT missing: pip install ai-edge-litert")


@pytest.fixture(scope="module")
def movenet256():
    _require_pose()
    from skelprompt.video.pose import MoveNetMultiPose

    return MoveNetMultiPose(input_size=256)


def test_movenet_model_is_checked(tmp_path):
    from skelprompt.video.pose import MOVENET_SHA256, movenet_model_bytes, movenet_model_path

    data = movenet_model_bytes()
    assert len(data) == 9_585_276 and hashlib.sha256(data).hexdigest() == MOVENET_SHA256
    assert movenet_model_path().is_file()
    changed = tmp_path / "movenet.tflite"
    changed.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelError, match="sha256 .* is not the MoveNet MultiPose model's") as e:
        movenet_model_bytes(changed)
    assert str(changed) in str(e.value)
    with pytest.raises(ModelError, match="cannot read the MoveNet pose model"):
        movenet_model_bytes(tmp_path / "missing.tflite")


def test_example_clip_shows_both_people_at_the_default_size(movenet256):
    from skelprompt.video.pose import DEFAULT_INPUT_SIZE
    from skelprompt.video.track_video import extract_clip

    assert movenet256.input_size == DEFAULT_INPUT_SIZE
    c = extract_clip(EXAMPLE_CUT, movenet256, progress=False)
    assert c.img_shape == (480, 640) and c.fps == pytest.approx(30.0) and c.num_frames == 105
    seen = (c.keypoint_score.max(-1) > 0).sum(1)
    assert c.num_persons == 2 and (seen >= 50).all(), seen  # the man on the box and the walker


def _extract_stderr(tmp_path, env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SKELPROMPT_VERBOSE"} | env_extra
    r = subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", "extract", str(EXAMPLE_CUT), "--out", str(tmp_path / "q.npz"),
         "--max-frames", "3", "-q"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_cli_extract_hides_the_runtime_banner_unless_verbose(tmp_path):
    _require_pose()
    quiet = _extract_stderr(tmp_path, {})
    assert "TensorFlow Lite" not in quiet and "INFO:" not in quiet, quiet
    assert "3 frames" in quiet  # our own messages still come through
    # the banner is really there to hide: SKELPROMPT_VERBOSE=1 shows it
    assert "TensorFlow Lite" in _extract_stderr(tmp_path, {"SKELPROMPT_VERBOSE": "1"})


def test_the_quick_start_alerts_on_the_man_on_the_box(street_detector, movenet256):
    """The README's main job: the default detector fitted on the street clip, the example clip
    scored with "a person jumping" at the default threshold, shows one alert span, on the man
    on the utility box raising his arms before his jump; a prompt that does not name what he
    does, and the group prompt evidence of the paper, stay under the threshold."""
    from skelprompt.detector import Detector
    from skelprompt.footage.scoring import score_video_clip
    from skelprompt.video.track_video import extract_clip

    det = Detector.load(street_detector)
    clip = extract_clip(EXAMPLE_CUT, movenet256, progress=False)
    first = cut_first_window_boxes(clip)
    man = min(first, key=lambda t: first[t][1])  # the person highest in the frame: on the box
    named = score_video_clip(det, clip, ["a person jumping"])
    assert [(s.start_s, s.end_s, s.track_ids) for s in named.alert_spans] == [(0.0, 2.0, [man])], (
        named.windows
    )
    assert named.threshold is not None and named.alert_spans[0].peak >= named.threshold
    assert score_video_clip(det, clip, ["a person falling down"]).alert_spans == []
    assert (
        score_video_clip(det.with_options(prompt_persons="group"), clip, ["a person jumping"]).alert_spans
        == []
    )


def cut_first_window_boxes(clip) -> dict[int, list[float]]:
    """Track id -> pixel box of each person visible in the first 2 s of ``clip``."""
    from skelprompt.footage.windows import cut_windows, person_box

    return {tid: person_box(p) for tid, p in cut_windows(clip)[0].persons}
