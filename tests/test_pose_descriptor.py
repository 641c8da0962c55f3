"""The raw-pose descriptor."""

from __future__ import annotations

import numpy as np

from skelprompt.clip import Clip
from tests.helpers import sbu_clips


def test_pose_descriptor_sorted_by_x_ignores_track_id_switches() -> None:
    from skelprompt.pose_descriptor import raw_pose_descriptor

    clip = sbu_clips()[40]
    kp, sc = clip.keypoint.copy(), clip.keypoint_score.copy()
    half = clip.num_frames // 2
    kp[:, half:], sc[:, half:] = kp[::-1, half:], sc[::-1, half:]  # ids switch mid-clip
    switched = Clip(kp, sc, clip.layout)
    a = raw_pose_descriptor(clip, 2, order_by_x=True)
    b = raw_pose_descriptor(switched, 2, order_by_x=True)
    np.testing.assert_allclose(a, b, atol=1e-9)
    assert not np.allclose(raw_pose_descriptor(clip, 2), raw_pose_descriptor(switched, 2))
