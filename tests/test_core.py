"""Core: layouts, clips, clip files, points, the encoder and model files, the pose descriptor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelprompt.clip import Clip
from skelprompt.errors import ClipError, FileFormatError, LayoutError, ModelError
from skelprompt.io import load_clips, save_clips
from skelprompt.io.pyskl import iter_pyskl, save_pyskl
from skelprompt.layouts import CANONICAL_JOINTS, LAYOUTS, get_layout
from skelprompt.model import extract_features, load_model, save_model, untrained_model
from skelprompt.points import PointConfig, clip_to_points, clips_to_batch
from tests.helpers import sbu_clips


# ---------------------------------------------------------------- layouts and clips
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
    save_pyskl(path, clips, split={"xsub_train": [c.frame_dir for c in clips[:2]]})
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
def test_encoder_is_invariant_to_point_order() -> None:
    model = untrained_model(seed=1)
    pts, mask = clips_to_batch(sbu_clips()[:4])
    perm = np.random.default_rng(0).permutation(pts.shape[1])
    with torch.no_grad():
        a = model.features(torch.from_numpy(pts), torch.from_numpy(mask))
        b = model.features(torch.from_numpy(pts[:, perm]), torch.from_numpy(mask[:, perm]))
        # padding rows never matter, whatever their values
        junk = pts.copy()
        junk[~mask] = 0.77
        c = model.features(torch.from_numpy(junk), torch.from_numpy(mask))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_chunked_inference_matches_the_training_path() -> None:
    model = untrained_model(seed=2)
    pts, mask = clips_to_batch(sbu_clips()[:6])
    p, m = torch.from_numpy(pts), torch.from_numpy(mask)
    with torch.no_grad():
        chunked = model.encoder(p, m, chunk_points=1)
    with torch.enable_grad():
        full = model.encoder(p, m).detach()
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=1e-5)


def test_model_file_round_trip_and_errors(tmp_path) -> None:
    model = untrained_model("small", seed=3, num_classes=5)
    path = tmp_path / "m.safetensors"
    save_model(path, model, {"note": "test"})
    back = load_model(path)
    assert back.provenance == {"note": "test"}
    f1, _ = extract_features(model, sbu_clips()[:3])
    f2, _ = extract_features(back, sbu_clips()[:3])
    np.testing.assert_allclose(f1, f2, atol=1e-6)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelError, match="bad.safetensors"):
        load_model(bad)
    short = tmp_path / "short.safetensors"
    short.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ModelError, match="short.safetensors"):
        load_model(short)


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
