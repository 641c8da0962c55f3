"""The Clip type: validation and mirroring."""

from __future__ import annotations

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.errors import ClipError
from skelprompt.layouts import get_layout
from tests.helpers import sbu_clips


def test_bad_clips_are_clear_errors() -> None:
    ok = np.random.default_rng(0).random((1, 5, 17, 2))
    with pytest.raises(ClipError, match="empty clip"):
        Clip.create(np.zeros((1, 0, 17, 2)), np.zeros((1, 0, 17)), source="e.npz")
    with pytest.raises(ClipError, match="all joints are missing"):
        Clip.create(ok, np.zeros((1, 5, 17)), source="m.npz")
    nan = ok.copy()
    nan[0, 2, 3] = np.nan
    with pytest.raises(ClipError, match="n.npz.*NaN or infinite"):
        Clip.create(nan, np.ones((1, 5, 17)), source="n.npz")
    inf = ok.copy()
    inf[0, 1, 1, 0] = np.inf
    with pytest.raises(ClipError, match="NaN or infinite"):
        Clip.create(inf, np.ones((1, 5, 17)))
    with pytest.raises(ClipError, match=r"\[M, T, V, 2\]"):
        Clip.create(np.zeros((1, 5, 17, 3, 1)))
    with pytest.raises(ClipError, match="has 17 joints, the clip has 15"):
        Clip.create(np.ones((1, 5, 15, 2)), layout="coco17")
    with pytest.raises(ClipError, match="does not match"):
        Clip.create(ok, np.ones((1, 4, 17)))
    # NaN where the joint is marked missing is fine and becomes 0
    c = Clip.create(nan, np.where(np.isnan(nan).any(-1), 0.0, 1.0))
    assert np.isfinite(c.keypoint).all()


# ---------------------------------------------------------------- files


def test_mirrored_clip_swaps_sides() -> None:
    clip = sbu_clips()[0]
    m = clip.mirrored()
    lay = get_layout(clip.layout)
    ls, rs = lay.index("left_shoulder"), lay.index("right_shoulder")
    np.testing.assert_allclose(m.keypoint_score[:, :, ls], clip.keypoint_score[:, :, rs])
    cx = clip.keypoint[..., 0][clip.keypoint_score > 0].mean()
    ok = clip.keypoint_score[:, :, rs] > 0
    np.testing.assert_allclose(
        m.keypoint[:, :, ls, 0][ok], 2 * cx - clip.keypoint[:, :, rs, 0][ok], rtol=1e-5
    )
