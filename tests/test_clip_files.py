"""Clip files: .npz and PySKL round trips."""

from __future__ import annotations

import numpy as np
import pytest

from skelprompt.errors import FileFormatError
from skelprompt.io import load_clips, save_clips
from skelprompt.io.pyskl import iter_pyskl, save_pyskl
from tests.helpers import sbu_clips


def test_npz_round_trip_and_bad_files(tmp_path) -> None:
    clips = sbu_clips()[:3]
    path = tmp_path / "clips.npz"
    save_clips(path, clips)
    back = load_clips(path)
    assert len(back) == 3
    for a, b in zip(clips, back, strict=True):
        np.testing.assert_array_equal(a.keypoint, b.keypoint)
        np.testing.assert_array_equal(a.keypoint_score, b.keypoint_score)
        assert (a.layout, a.label, a.frame_dir, a.fps) == (b.layout, b.label, b.frame_dir, b.fps)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(FileFormatError, match="truncated.npz"):
        load_clips(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(FileFormatError, match="foreign.npz: not a skelprompt clip file"):
        load_clips(foreign)
    with pytest.raises(FileFormatError, match="unknown clip file type"):
        load_clips(tmp_path / "x.txt") if (tmp_path / "x.txt").write_text("hi") else None


def test_pyskl_round_trip_needs_trust(tmp_path) -> None:
    clips = sbu_clips()[:4]
    path = tmp_path / "ann.pkl"
    save_pyskl(path, clips, split={"xsub_train": [str(c.frame_dir) for c in clips[:2]]})
    with pytest.raises(FileFormatError, match="pickle can run code"):
        list(iter_pyskl(path, layout="openni15"))
    back = list(iter_pyskl(path, layout="openni15", trust_pickle=True))
    assert [c.frame_dir for c in back] == [c.frame_dir for c in clips]
    np.testing.assert_allclose(back[1].keypoint, clips[1].keypoint)
    assert len(list(iter_pyskl(path, layout="openni15", trust_pickle=True, split="xsub_train"))) == 2
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(FileFormatError, match="garbage.pkl"):
        list(iter_pyskl(garbage, trust_pickle=True))


# ---------------------------------------------------------------- points
