"""HR-ShanghaiTech / HR-Avenue: the trajectory reader on the real files, the frame-level
evaluation, and a small end-to-end run of the benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from skelprompt.datasets.hr_vad import HR_SETS, load_video, read_trajectories, video_names
from skelprompt.errors import FileFormatError
from skelprompt.evaluation.frame_level import FrameTargets, evaluate_frames, fill_unscored, frame_scores
from skelprompt.footage.windows import cut_windows
from tests.helpers import require_data_root

AVENUE = HR_SETS["hr-avenue"]
STC = HR_SETS["hr-shanghaitech"]


def test_avenue_test_video_reads_as_a_tracked_clip_on_the_mask_timeline():
    root = require_data_root()
    name = video_names(root, AVENUE, "test")[0]
    v = load_video(root, AVENUE, "test", name)
    raw = np.load(root / "hr_vad" / "HR-Avenue" / "test" / f"{name}.npz")
    c = v.clip
    assert c is not None and v.labels is not None and c.track_ids is not None
    assert c.num_frames == len(v.labels) and c.fps == 25.0 and c.img_shape == (360, 640)
    assert sorted(c.track_ids.tolist()) == sorted(np.unique(raw["person"]).tolist())
    # one row of the file lands where its person and frame say; (0, 0) joints are missing
    i = len(raw["person"]) // 2
    m = int(np.flatnonzero(c.track_ids == raw["person"][i])[0])
    kp = raw["keypoints"][i]
    np.testing.assert_array_equal(c.keypoint[m, raw["frame"][i]], kp)
    np.testing.assert_array_equal(c.keypoint_score[m, raw["frame"][i]], (kp != 0).any(-1).astype(np.float32))
    # the footage machinery cuts it: 2 s windows at 25 fps are 50 frames, one clip per person
    w = cut_windows(c, 2.0, 0.5)[3]
    assert w.end_frame - w.start_frame == 50 and all(p.num_persons == 1 for _, p in w.persons)


def test_training_start_duplicates_are_undone_where_the_quirk_shows():
    root = require_data_root()
    path = root / "hr_vad" / "HR-ShanghaiTech" / "train" / "01_001.npz"
    raw = np.load(path)
    fixed = read_trajectories(path, STC, fix_start_duplicates=True)
    as_published = read_trajectories(path, STC)
    assert fixed is not None and as_published is not None and fixed.track_ids is not None
    n = fixed.meta["start_duplicates_fixed"]
    assert n > 0 and as_published.meta["start_duplicates_fixed"] == 0
    # every fixed track lost exactly one row; the others are unchanged
    rows = fixed.keypoint_score.any(-1).sum(1)
    rows_raw = as_published.keypoint_score.any(-1).sum(1)
    assert int((rows_raw - rows).sum()) == n and set((rows_raw - rows).tolist()) <= {0, 1}
    m = int(np.flatnonzero(rows_raw - rows)[0])
    tid = fixed.track_ids[m]
    first = raw["keypoints"][raw["person"] == tid]
    np.testing.assert_array_equal(fixed.keypoint[m, 0], first[0])
    np.testing.assert_array_equal(fixed.keypoint[m, 1], first[2])  # the repeat (row 1) is gone
    np.testing.assert_array_equal(fixed.keypoint[m, 2], first[3])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("frame"), "missing arrays"),
        (lambda a: a.update(keypoints=a["keypoints"][:, :13]), "keypoints must have shape"),
        (lambda a: a.update(frame=a["frame"] - 5), "frame numbers must lie"),
        (lambda a: a.update(keypoints=np.where(a["keypoints"] > 300, np.nan, a["keypoints"])), "NaN"),
        (lambda a: a.update(person=a["person"][:-1]), "differ in length"),
        (lambda a: a.update(frame=np.zeros_like(a["frame"])), "appears twice in frame"),
    ],
)
def test_bad_trajectory_file_is_one_error_naming_it(tmp_path: Path, change, message):
    root = require_data_root()
    src = root / "hr_vad" / "HR-Avenue" / "test" / "01_01.npz"
    arrays = dict(np.load(src))
    change(arrays)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(FileFormatError, match=message) as e:
        read_trajectories(bad, AVENUE, num_frames=10_000)
    assert str(bad) in str(e.value)


def test_frames_beyond_the_mask_are_an_error(tmp_path: Path):
    root = require_data_root()
    with pytest.raises(FileFormatError, match="beyond the video's 10 labelled frames"):
        read_trajectories(root / "hr_vad" / "HR-Avenue" / "test" / "01_01.npz", AVENUE, num_frames=10)


def test_benchmark_command_on_a_bad_file_exits_2_with_one_line(tmp_path: Path, capsys):
    from tests.test_cli_errors import assert_one_clear_line, run_main

    root = require_data_root()
    av = tmp_path / "hr_vad" / "HR-Avenue"
    (av / "train").mkdir(parents=True)
    (av / "test_frame_masks").mkdir()
    shutil.copy(root / "hr_vad" / "HR-Avenue" / "test_frame_masks" / "01_01.npy", av / "test_frame_masks")
    np.savez(
        av / "train" / "01_01.npz",
        person=np.ones(3, np.int32),
        frame=np.arange(3),
        keypoints=np.zeros((3, 5)),
    )
    args = ("benchmark", "hr-avenue", "--data-root", str(tmp_path))
    assert_one_clear_line(run_main(capsys, *args), "01_01.npz", args)


def test_frame_scores_take_the_max_over_items_and_unscored_frames_get_the_lowest():
    targets = FrameTargets(np.array([0, 0, 1]), [np.array([0, 1, 2]), np.array([2, 3]), np.array([0])])
    per_video = frame_scores([5, 2], targets, np.array([1.0, 3.0, -2.0]))
    np.testing.assert_array_equal(per_video[0], [1.0, 1.0, 3.0, 3.0, np.nan])
    filled, missing = fill_unscored(per_video)
    assert missing == 2 and filled[0][4] == -2.0 and filled[1][1] == -2.0
    labels = [np.array([0, 0, 1, 1, 0]), np.array([0, 0])]
    r = evaluate_frames([5, 2], labels, targets, np.array([1.0, 3.0, -2.0]), sigma=0)
    # positives (3, 3) above every negative (1, 1, -2, -2, -2)
    assert r["micro_auc"] == 1.0 and r["frames_without_score"] == 2 and r["macro_videos"] == 1


def test_small_run_of_the_avenue_benchmark_gives_every_row():
    from skelprompt.evaluation.hr_benchmark import run_hr_benchmark
    from skelprompt.model import load_model

    root = require_data_root()
    out = run_hr_benchmark("hr-avenue", root, load_model(), limit=1, fit_windows=60, peer=False)
    rows = out["results"]
    assert set(rows) == {
        "skelprompt default", "skelprompt OoD only", "skelprompt prompt only",
        "skelprompt default, wrong prompt", "raw-pose k-NN", "mean joint speed",
        *(f"ablation: {a}{b}" for a in ("one detector per camera", "place source added", "raw-pose source only",
                                        "model source only") for b in ("", ", OoD only")),
    }  # fmt: skip
    assert out["protocol"]["fit_person_windows"] == 60
    for r in rows.values():
        assert 0.0 <= r["micro_auc"] <= 1.0
    assert out["memory"]["peak_rss_mib_after_fit"] > 0


def test_place_descriptor_keeps_where_and_which_way_a_person_goes():
    from skelprompt.clip import Clip
    from skelprompt.place_descriptor import PLACE_FRAMES, place_descriptor

    root = require_data_root()
    c = load_video(root, AVENUE, "test", "01_01").clip
    assert c is not None
    w = next(p for win in cut_windows(c, 2.0, 0.5) for _, p in win.persons)
    d = place_descriptor(w)
    assert d.shape == (3 * PLACE_FRAMES,) and np.all((d >= 0) & (d <= 1))
    # the mirrored person is elsewhere and walks the other way: the descriptor tells them apart
    assert not np.allclose(place_descriptor(w.mirrored()), d)
    # x / width: the same person moved 64 pixels right is 0.1 further right
    kp = np.where(w.keypoint_score[..., None] > 0, w.keypoint + [64.0, 0.0], 0.0)
    moved = Clip.create(kp, w.keypoint_score, layout=w.layout, fps=w.fps, img_shape=w.img_shape)
    np.testing.assert_allclose(place_descriptor(moved)[:PLACE_FRAMES], d[:PLACE_FRAMES] + 0.1, atol=1e-6)
    with pytest.raises(Exception, match="img_shape"):
        place_descriptor(Clip.create(kp, w.keypoint_score, layout=w.layout))


def test_scene_of_a_video_is_its_camera():
    from skelprompt.evaluation.hr_benchmark import scene_of

    assert scene_of("01_0014") == "01" and scene_of("12_0152") == "12"


def test_detector_with_the_place_source_saves_and_loads(tmp_path: Path):
    from skelprompt.detector import Detector
    from skelprompt.evaluation.hr_benchmark import hr_config
    from skelprompt.model import load_model

    root = require_data_root()
    c = load_video(root, AVENUE, "train", "01_01").clip
    assert c is not None
    clips = [p for w in cut_windows(c, 2.0, 0.5) for _, p in w.persons][:40]
    model = load_model()
    det = Detector(model, hr_config(ood_features="pose+model+place")).fit(clips[:30])
    assert det.info["memory_bank"]["place"] == {"rows": 30, "of": 30}  # never mirrored
    det.save(tmp_path / "det.safetensors")
    back = Detector.load(tmp_path / "det.safetensors", expect_model=model)
    np.testing.assert_allclose(back.score(clips[30:]).anomaly, det.score(clips[30:]).anomaly)
