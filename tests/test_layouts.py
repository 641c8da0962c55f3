"""Joint layouts: every layout maps onto the canonical joints."""

from __future__ import annotations

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.errors import LayoutError
from skelprompt.layouts import CANONICAL_JOINTS, LAYOUTS, get_layout


def test_every_layout_maps_onto_the_canonical_joints() -> None:
    for lay in LAYOUTS.values():
        assert len(lay.canonical_index) == len(CANONICAL_JOINTS)
        assert max(lay.canonical_index) < lay.num_joints
        flip = lay.flip_index
        assert all(flip[flip[i]] == i for i in range(lay.num_joints))
        for canon, src in zip(CANONICAL_JOINTS, lay.canonical_index, strict=True):
            if canon.startswith(("left_", "right_")):
                assert lay.joints[src].split("_")[0] == canon.split("_")[0], (lay.name, canon)


def test_unknown_layout_is_a_clear_error() -> None:
    with pytest.raises(LayoutError, match="unknown joint layout 'body99'"):
        get_layout("body99")
    with pytest.raises(LayoutError):
        Clip.create(np.zeros((1, 4, 17, 2)), layout="body99")
