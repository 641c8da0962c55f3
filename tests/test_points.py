"""7-D point sets: ranges, masks, body normalisation."""

from __future__ import annotations

import numpy as np

from skelprompt.clip import Clip
from skelprompt.points import PointConfig, clip_to_points
from tests.helpers import sbu_clips


def test_points_are_in_unit_range_and_masked() -> None:
    for clip in sbu_clips()[:20]:
        pts, mask = clip_to_points(clip, PointConfig(frames=16, persons=3))
        assert pts.shape == (16 * 3 * 13, 7) and mask.shape == (16 * 3 * 13,)
        assert pts.min() >= 0 and pts.max() <= 1
        assert not pts[~mask].any()  # padding and missing joints are zero
        grid = mask.reshape(3, 16, 13)
        assert grid[:2].any() and not grid[2].any()  # SBU has two persons, the third slot is padding
        frames = grid[0].any(1)
        t = pts.reshape(3, 16, 13, 7)[0, frames, 0, 2]
        assert frames.sum() == min(16, clip.num_frames)
        assert t[0] >= 0 and np.all(np.diff(t) > 0)  # time increases over the sampled frames


def test_missing_joints_are_masked() -> None:
    clip = sbu_clips()[0]
    sc = clip.keypoint_score.copy()
    sc[0, :, 0] = 0  # person 0's head (OpenNI joint 0 = canonical head) is missing everywhere
    clip = Clip(clip.keypoint, sc, clip.layout, source="x")
    pts, mask = clip_to_points(clip, PointConfig(frames=8, persons=2))
    grid = mask.reshape(2, 8, 13)
    # person 0 has fewer valid joints than person 1, so it is sorted second
    assert not grid[1, :, 0].any() and grid[0, :, 0].all()


def test_body_normalisation_makes_scale_and_position_irrelevant() -> None:
    clip = sbu_clips()[5]
    moved = Clip(clip.keypoint * 3.0 + 7.0, clip.keypoint_score, clip.layout)
    a, _ = clip_to_points(clip)
    b, _ = clip_to_points(moved)
    np.testing.assert_allclose(a, b, atol=1e-5)


# ---------------------------------------------------------------- network
