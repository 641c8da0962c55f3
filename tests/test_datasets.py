"""Data set readers, registry, projection and the ``data`` CLI, on the real files in ../shared/data."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest
import scipy.io

from skelprompt.datasets import (
    DATASETS,
    deepmimic,
    jhmdb,
    k3hi,
    label_lists,
    load_dataset,
    msr,
    precog,
    sbu,
    urfd,
)
from skelprompt.datasets.registry import default_data_root
from skelprompt.errors import FileFormatError, SkelpromptError
from skelprompt.layouts import get_layout
from skelprompt.project3d import project_pinhole, random_view, rotate_y

# name -> (clips, {class: count} or number of classes, persons, layout)
EXPECTED = {
    "sbu": (282, {"approaching": 42, "departing": 43, "kicking": 40, "punching": 41, "pushing": 18,
                  "hugging": 21, "shaking hands": 39, "exchanging": 38}, 2, "openni15"),
    "k3hi": (312, {"approaching": 41, "departing": 36, "exchanging": 32, "kicking": 51, "pointing": 49,
                   "punching": 45, "pushing": 36, "shaking hands": 22}, 2, "k3hi15"),
    "msr": (566, 20, 1, "msr20"),
    "nw_ucla": (1484, 10, 1, "kinect20"),
    "utkinect": (199, 10, 1, "kinect20"),
    "jhmdb": (609, 14, 1, "jhmdb15"),
    "urfd": (30, {"fall": 30}, 1, "coco13"),
    "deepmimic": (241, 19, 1, "deepmimic16"),
    "precog": (662, 9, 1, "kinect20"),
}  # fmt: skip


@pytest.fixture(scope="module")
def all_clips(data_root):
    return {name: load_dataset(name, data_root) for name in DATASETS}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_counts_classes_and_shapes(all_clips, name):
    clips = all_clips[name]
    n, classes, persons, layout = EXPECTED[name]
    assert len(clips) == n
    counts = Counter(c.label for c in clips)
    if isinstance(classes, dict):
        assert counts == classes
    else:
        assert len(counts) == classes
    lay = get_layout(layout)
    ids = set()
    for c in clips:
        c.validate()
        assert c.layout == layout
        assert c.keypoint.shape == (persons, c.num_frames, lay.num_joints, 2)
        assert c.label == c.label.lower().replace("_", " ")
        assert c.meta["dataset"] == name and c.source and c.fps
        ids.add(c.frame_dir)
        if c.keypoint3d is not None:
            assert c.keypoint3d.shape == c.keypoint.shape[:3] + (3,)
            assert c.img_shape is None
    assert len(ids) == len(clips), "frame_dir must be unique"


def test_dataset_specific_meta(all_clips):
    m = all_clips["msr"]
    assert sum(c.meta["used_in_cvpr12"] for c in m) == 557
    assert {"forward punch", "side boxing", "forward kick", "side kick"} <= {c.label for c in m}
    assert {c.meta["subject"] for c in m} == set(range(1, 11))
    assert {c.fps for c in m} == {15.0}

    sets = sorted({c.meta["set"] for c in all_clips["sbu"]})
    assert len(sets) == 21 and sets[0] == "s01s02" and sets[-1] == "s07s03"

    k = all_clips["k3hi"]
    assert all(isinstance(c.meta["seq_id"], int) for c in k)
    assert Counter(c.meta["interformer_split"] for c in k)["train"] == 236

    u = all_clips["nw_ucla"]
    assert Counter(c.meta["view"] for c in u)[3] == 464  # CTR-GCN's cross-view test list
    assert all(c.keypoint3d is not None for c in u)

    j = all_clips["jhmdb"]
    for s, (ntrain, ntest) in {"1": (433, 176), "2": (433, 176), "3": (434, 175)}.items():
        assert Counter(c.meta["splits"][s] for c in j) == {"train": ntrain, "test": ntest}

    f = all_clips["urfd"]
    assert sorted(c.meta["video"] for c in f) == [f"fall-{i:02d}" for i in range(1, 31)]
    labels = Counter(x for c in f for x in c.meta["frame_labels"])
    # 2,939 CSV rows: fall-13/14 list frames twice, 12 skipped frames are filled
    assert sum(c.num_frames for c in f) == 2815
    assert set(labels) == {0, 1, 2}
    for c in f:
        assert len(c.meta["frame_labels"]) == c.num_frames and c.start_frame == 5
        assert c.img_shape == (480, 640)

    p = all_clips["precog"]
    strikes = [c for c in p if c.label != "neutral stance"]
    assert len(strikes) == 350  # 72 recordings x 5 strikes, less the two all-zero recordings of subject 10
    assert Counter(c.label for c in strikes)["elbow strike"] == 12  # only script 6 has one

    d = all_clips["deepmimic"]
    assert max(c.num_frames for c in d) == 64
    assert {"walk", "punch", "spinning kick"} <= {c.label for c in d}


def _frac(clips, fn):
    vals = []
    for c in clips:
        k = c.to_canonical()
        vals.append(fn(k.keypoint.reshape(-1, 13, 2), k.keypoint_score.reshape(-1, 13)))
    v = np.concatenate(vals)
    return float(np.mean(v))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_canonical_orientation(all_clips, name):
    clips = all_clips[name]

    def head_above_hips(kp, sc):
        ok = (sc[:, [0, 7, 8]] > 0).all(1)
        return kp[ok, 0, 1] < (kp[ok, 7, 1] + kp[ok, 8, 1]) / 2

    def left_shoulder_on_image_right(kp, sc):
        ok = (sc[:, [1, 2]] > 0).all(1)
        return kp[ok, 1, 0] > kp[ok, 2, 0]

    assert _frac(clips, head_above_hips) > 0.8  # y down after projection for every source
    # people mostly face the camera: their left shoulder is on the image's right (un-mirrored)
    assert _frac(clips, left_shoulder_on_image_right) > 0.6


def test_3d_keypoint_is_projection(all_clips):
    for name in ("msr", "nw_ucla", "utkinect", "precog", "deepmimic"):
        c = all_clips[name][0]
        ok = c.keypoint_score > 0
        np.testing.assert_allclose(c.keypoint[ok], project_pinhole(c.keypoint3d)[ok], rtol=1e-5, atol=1e-6)
        assert (c.keypoint3d[ok][:, 2] > 0.5).all()
    d = all_clips["deepmimic"][0]
    ok = d.keypoint_score > 0
    np.testing.assert_allclose(d.keypoint3d[ok].mean(0), [0, 0, 4.0], atol=1e-4)


def test_projection_math():
    xyz = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    uv = project_pinhole(xyz)
    np.testing.assert_allclose(uv[:2], [[0.25, -0.5], [0.0, 0.0]])
    assert np.isnan(uv[2]).all()  # on the camera plane: cannot be projected

    pts = np.array([[1.0, 0.0, 4.0], [-1.0, 0.0, 4.0]])  # centre (0, 0, 4)
    r = rotate_y(pts, 90.0)
    np.testing.assert_allclose(r.mean(0), [0, 0, 4], atol=1e-9)
    np.testing.assert_allclose(np.abs(r[:, 2] - 4), [1, 1], atol=1e-9)
    np.testing.assert_allclose(rotate_y(pts, 0.0), pts)
    np.testing.assert_allclose(np.linalg.norm(r[0] - r[1]), 2.0)

    rng = np.random.default_rng(0)
    body = np.random.default_rng(1).normal(size=(5, 20, 3)) * 0.3 + [0, 0, 3]
    body[0, 0] = np.nan  # a missing joint stays missing and does not move the centre to NaN
    out = random_view(body, rng)
    assert out.shape == (5, 20, 2) and np.isnan(out[0, 0]).all() and np.isfinite(out[1:]).all()


# ---- malformed files --------------------------------------------------------------------------


def test_sbu_bad_line(tmp_path, data_root):
    src = next((data_root / sbu.FOLDER).glob("s*/*/*/skeleton_pos.txt"))
    bad = tmp_path / sbu.FOLDER / "s01s02" / "01" / "001" / "skeleton_pos.txt"
    bad.parent.mkdir(parents=True)
    lines = src.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1].rsplit(",", 3)[0], *lines[2:]]))
    with pytest.raises(FileFormatError, match=r"skeleton_pos\.txt: line 2 has 88"):
        sbu.load(tmp_path)


def test_sbu_missing_person_is_score_zero(tmp_path):
    f = tmp_path / sbu.FOLDER / "s01s02" / "03" / "001" / "skeleton_pos.txt"
    f.parent.mkdir(parents=True)
    one = ",".join(["0.5"] * 45)
    f.write_text("\n".join(f"{t}," + one + "," + ",".join(["0"] * 45) for t in range(1, 6)))
    (c,) = sbu.load(tmp_path)
    assert c.label == "kicking" and (c.keypoint_score[1] == 0).all() and (c.keypoint_score[0] == 1).all()


def test_k3hi_wrong_size(tmp_path, data_root):
    d = tmp_path / k3hi.FOLDER / "Skeletons" / "kicking" / "1"
    d.mkdir(parents=True)
    scipy.io.savemat(d / "skeleton_A.mat", {"curve_B": np.zeros((44, 10))})
    shutil.copy(data_root / k3hi.FOLDER / "Skeletons" / "kicking" / "1" / "skeleton_B.mat", d)
    with pytest.raises(FileFormatError, match=r"skeleton_A\.mat: 'curve_B' must be a numeric \(45, T\)"):
        k3hi.load(tmp_path)


def test_npz_missing_array(tmp_path):
    d = tmp_path / msr.FOLDER
    d.mkdir()
    np.savez(d / msr.FILE, joints=np.zeros((3, 20, 4), np.float32))
    with pytest.raises(FileFormatError, match=r"msr_action3d_skeleton3d\.npz: missing arrays"):
        msr.load(tmp_path)
    (d / msr.FILE).write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="cannot read as .npz"):
        msr.load(tmp_path)


def test_deepmimic_bad_shape(tmp_path):
    d = tmp_path / deepmimic.FOLDER
    d.mkdir()
    np.savez(
        d / deepmimic.FILE, positions=np.zeros((10, 15, 3), np.float32), lengths=np.array([10]),
        offsets=np.array([0]), text=np.array(["walk"]), clip_name=np.array(["walk"]),
    )  # fmt: skip
    with pytest.raises(FileFormatError, match=r"positions must have shape \[N, 16, 3\]"):
        deepmimic.load(tmp_path)


def test_precog_bad_row(tmp_path, data_root):
    d = tmp_path / precog.FOLDER / "CSV"
    d.mkdir(parents=True)
    lines = (data_root / precog.FOLDER / "CSV" / "Seq1_1.csv").read_text().splitlines()
    lines[3] = lines[3].rsplit(";", 2)[0]
    (d / "Seq1_1.csv").write_text("\n".join(lines))
    with pytest.raises(FileFormatError, match=r"Seq1_1\.csv: line 4 has 19"):
        precog.load(tmp_path)


def test_precog_segments_absorb_glitches():
    lab = np.array([0] * 5 + [1] * 10 + [2] + [0] * 4 + [6] * 4 + [0] + [6] * 9)
    assert precog.segments(lab) == [(0, 5, 0), (5, 16, 1), (16, 20, 0), (20, 34, 6)]


def test_urfd_and_jhmdb_bad(tmp_path):
    d = tmp_path / urfd.FOLDER
    d.mkdir()
    (d / urfd.FILE).write_text("video,frame,Nose_x\nfall-01,5,0.3\n")
    with pytest.raises(FileFormatError, match=r"pose_urfd_3classes\.csv: missing columns"):
        urfd.load(tmp_path)
    import pickle

    d = tmp_path / jhmdb.FOLDER
    d.mkdir()
    with open(d / "GT_train_1.pkl", "wb") as fh:
        pickle.dump({"pose": [np.zeros((10, 14, 2))], "label": ["run"]}, fh)
    with pytest.raises(FileFormatError, match=r"GT_train_1\.pkl: pose 0 must be a numeric \(T, 15, 2\)"):
        jhmdb.load(tmp_path)


# ---- registry, label lists, CLI --------------------------------------------------------------


def test_registry_errors_and_cache(tmp_path, data_root, monkeypatch):
    with pytest.raises(SkelpromptError, match="unknown data set 'nope'; known data sets: sbu, k3hi"):
        load_dataset("nope", data_root)
    with pytest.raises(SkelpromptError, match=r"not found: no folder 'msr_action3d' under .*download"):
        load_dataset("msr", tmp_path)
    monkeypatch.setenv("SKELPROMPT_DATA_ROOT", str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.delenv("SKELPROMPT_DATA_ROOT")
    found = default_data_root()
    if found.is_dir():  # beside the repository (or found from the current folder)
        assert found.resolve() == data_root
    a, b = load_dataset("urfd", data_root), load_dataset("urfd", data_root)
    assert a[0] is b[0]  # cached


def test_label_lists(data_root):
    assert len(label_lists.kinetics400_names(data_root)) == 400
    ntu = label_lists.ntu120_names(data_root)
    assert len(ntu) == 120 and ntu[50].startswith("punching")
    splits = label_lists.gepc_splits(data_root)
    assert "bench pressing" in splits["kinetics_meaningful"]["lifters"]
    assert len(label_lists.kinetics_motion_names(data_root)) == 30
    ucla = label_lists.class_descriptions(data_root, "ucla", "sentence")
    assert "pick up with one hand" in ucla and len(ucla) == 10
    assert len(label_lists.class_descriptions(data_root, "ntu120", "synonym")) >= 119


@pytest.fixture(scope="module")
def cli_app():
    from skelprompt import cli

    cli._register_all()
    cli._register_all()  # registering twice must not add the group twice
    assert sum(getattr(g, "name", None) == "data" for g in cli.app.registered_groups) == 1
    return cli.app


def test_cli_data_list_and_show(cli_app, data_root):
    from typer.testing import CliRunner

    runner = CliRunner()
    r = runner.invoke(cli_app, ["data", "list", "--data-root", str(data_root)])
    assert r.exit_code == 0, r.output
    assert "nw_ucla" in r.output and "yes" in r.output
    r = runner.invoke(cli_app, ["data", "show", "sbu", "--data-root", str(data_root)])
    assert r.exit_code == 0, r.output
    assert "282" in r.output and "shaking hands" in r.output and "missing-joint fraction" in r.output
    r = runner.invoke(cli_app, ["data", "show", "nope", "--data-root", str(data_root)])
    assert r.exit_code != 0 and isinstance(r.exception, SkelpromptError)
