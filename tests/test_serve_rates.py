"""A camera's status rates: processed never above the rate in nor the pose rate, around a file's
loop restart and while a full queue drains; a camera without frames falls to 0."""

from __future__ import annotations

import time

import pytest

from skelprompt.service.rates import FrameCounts

POSE_FPS = 10.0


def _check(counts: FrameCounts, now: float) -> tuple[float, float]:
    fps_in, done = counts.rates(now)
    assert done <= fps_in + 1e-9, (fps_in, done)
    assert done <= POSE_FPS + 1e-9
    return fps_in, done


def test_rates_of_a_steady_camera() -> None:
    counts, t0 = FrameCounts(POSE_FPS), time.monotonic()
    for i in range(300):  # 10 s of a 30 fps file, every third frame through pose
        now = t0 + i / 30
        counts.took(0)
        counts.done(now) if i % 3 == 0 else counts.skip(now)
    fps_in, done = _check(counts, t0 + 10)
    assert fps_in == pytest.approx(30, rel=0.05) and done == pytest.approx(10, rel=0.05)
    assert counts.frames_in == 300 and counts.processed == 100 and counts.skipped == 200
    assert not counts.falling_behind(t0 + 10)


def test_rates_around_a_loop_restart_while_the_queue_drains() -> None:
    """The reported case: a slow pose (3.5 fps) behind a 30 fps file that loops. The file ends
    with 16 frames queued, which are processed while nothing new comes in; then the file
    starts again after a pause, with a new stream whose drop count starts at 0."""
    counts, t0 = FrameCounts(POSE_FPS), time.monotonic()
    now, stream_dropped = t0, 0
    for _ in range(40):  # 30 fps in, 3.5 processed: the queue drops the rest
        now += 1 / 3.5
        stream_dropped += 8
        counts.took(stream_dropped)
        counts.done(now)
        _check(counts, now)
    assert counts.falling_behind(now)
    for _ in range(16):  # the file has ended: the queue drains, nothing is dropped any more
        now += 1 / 3.5
        counts.took(stream_dropped)
        counts.done(now)
        _check(counts, now)
    now += 1.0  # the file is opened again
    _check(counts, now)
    counts.new_stream()
    for _ in range(20):
        now += 1 / 3.5
        counts.took(2)
        counts.done(now)
        fps_in, done = _check(counts, now)
    assert counts.dropped == 40 * 8 + 2  # counted over both streams
    assert done == pytest.approx(3.5, rel=0.1) and fps_in >= done


def test_a_camera_without_frames_falls_to_zero() -> None:
    counts, t0 = FrameCounts(POSE_FPS), time.monotonic()
    for i in range(50):
        counts.took(0)
        counts.done(t0 + i / 10)
    assert _check(counts, t0 + 5)[1] > 9
    fps_in, done = _check(counts, t0 + 4.9 + counts.span_s + 0.1)
    assert fps_in == 0.0 and done == 0.0
