"""OpenPose, AlphaPose and COCO keypoint JSON readers: round trips and malformed files.

The poses are two real MoveNet (512 px) detections from frame 0 of vtest.avi, walked
across the frame at the speeds the pedestrians there move (about 5 px per frame).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.alphapose import read_alphapose, write_alphapose
from skelprompt.io.coco import read_coco_keypoints, write_coco_results
from skelprompt.io.openpose import BODY25_TO_OPENPOSE18, read_openpose, write_openpose
from skelprompt.layouts import get_layout

# x, y, score per COCO-17 joint.
WALKER_A = [[512.6, 165.5, 0.73], [513.6, 163.6, 0.62], [511.6, 163.8, 0.54], [515.4, 163.9, 0.46], [509.9, 164.5, 0.55], [520.9, 171.8, 0.68], [506.9, 171.8, 0.7], [521.7, 183.4, 0.47], [503.3, 183.0, 0.54], [525.9, 192.0, 0.47], [500.2, 190.2, 0.55], [519.0, 191.1, 0.66], [511.4, 192.7, 0.54], [517.8, 208.6, 0.35], [511.6, 208.7, 0.56], [518.6, 224.2, 0.51], [514.6, 223.7, 0.58]]  # fmt: skip
WALKER_B = [[652.2, 252.2, 0.48], [653.5, 250.5, 0.49], [653.4, 250.1, 0.54], [657.4, 249.2, 0.73], [656.8, 248.7, 0.69], [662.4, 257.1, 0.69], [663.1, 255.9, 0.57], [662.1, 273.2, 0.37], [661.8, 270.7, 0.34], [660.0, 280.7, 0.45], [659.6, 278.8, 0.43], [666.2, 280.8, 0.56], [667.6, 280.5, 0.6], [662.1, 297.4, 0.57], [665.3, 295.7, 0.5], [675.2, 310.7, 0.34], [677.0, 310.8, 0.43]]  # fmt: skip
T = 12


def walkers(track_ids=(7, 3)) -> Clip:
    """Two people walking in opposite directions; B is missing in frames 5 and 6."""
    base = np.array([WALKER_A, WALKER_B], np.float32)  # [2, 17, 3]
    kp = np.repeat(base[:, None, :, :2], T, axis=1).copy()
    sc = np.repeat(base[:, None, :, 2], T, axis=1).copy()
    steps = np.arange(T, dtype=np.float32)
    kp[0, :, :, 0] -= 5.0 * steps[:, None]
    kp[1, :, :, 0] += 4.0 * steps[:, None]
    kp[1, :, :, 1] -= 1.5 * steps[:, None]
    sc[1, 5:7] = 0.0
    return Clip.create(kp, sc, layout="coco17", img_shape=(576, 768), track_ids=np.array(track_ids))


def to_openpose18(clip: Clip) -> Clip:
    """COCO-17 -> OpenPose COCO-18 (neck = mid-shoulder)."""
    src = get_layout("coco17")
    dst = get_layout("openpose18")
    kp = np.zeros((clip.num_persons, clip.num_frames, 18, 2), np.float32)
    sc = np.zeros((clip.num_persons, clip.num_frames, 18), np.float32)
    for j, name in enumerate(dst.joints):
        if name == "neck":
            a, b = src.index("left_shoulder"), src.index("right_shoulder")
            kp[:, :, j] = (clip.keypoint[:, :, a] + clip.keypoint[:, :, b]) / 2
            sc[:, :, j] = np.minimum(clip.keypoint_score[:, :, a], clip.keypoint_score[:, :, b])
        else:
            kp[:, :, j] = clip.keypoint[:, :, src.index(name)]
            sc[:, :, j] = clip.keypoint_score[:, :, src.index(name)]
    return Clip.create(kp, sc, layout="openpose18", track_ids=clip.track_ids, img_shape=clip.img_shape)


def track_ids(clip: Clip) -> list[int]:
    assert clip.track_ids is not None, "the reader should keep track ids"
    return [int(t) for t in clip.track_ids]


def by_track(clip: Clip) -> dict[int, int]:
    return {int(t): m for m, t in enumerate(track_ids(clip))}


def assert_same_people(got: Clip, want: Clip, atol: float = 2e-3) -> None:
    assert got.keypoint.shape == want.keypoint.shape
    for m in range(want.num_persons):
        # find got's person with the same trajectory (ids may be renumbered when re-tracked)
        present = want.keypoint_score[m] > 0
        errs = [
            np.abs(got.keypoint[g][present] - want.keypoint[m][present]).max() for g in range(got.num_persons)
        ]
        g = int(np.argmin(errs))
        assert errs[g] < atol
        np.testing.assert_allclose(got.keypoint_score[g], want.keypoint_score[m], atol=atol)


# --- COCO ------------------------------------------------------------------------------


def test_coco_results_round_trip_keeps_track_ids(tmp_path):
    clip = walkers()
    path = tmp_path / "results.json"
    write_coco_results(path, clip)
    got = read_coco_keypoints(path, fps=10.0)
    assert got.layout == "coco17" and got.fps == 10.0
    assert sorted(track_ids(got)) == [3, 7]
    m = by_track(got)
    for want_m, tid in enumerate(track_ids(clip)):
        np.testing.assert_allclose(got.keypoint[m[int(tid)]], clip.keypoint[want_m], atol=2e-3)
        np.testing.assert_allclose(got.keypoint_score[m[int(tid)]], clip.keypoint_score[want_m], atol=2e-3)
    assert got.meta["tracked_by"] == "file"


def test_coco_results_without_track_ids_are_tracked(tmp_path):
    clip = walkers()
    path = tmp_path / "results.json"
    write_coco_results(path, clip)
    recs = json.loads(path.read_text())
    for r in recs:
        del r["track_id"]
    recs.reverse()  # order in the file must not matter
    path.write_text(json.dumps(recs))
    got = read_coco_keypoints(path)
    assert got.num_persons == 2, "walker B's 2-frame gap must not start a new track"
    assert got.meta["tracked_by"] == "skelprompt"
    assert_same_people(got, clip)


def test_coco_results_keep_frame_gaps(tmp_path):
    recs = [
        {"image_id": i, "category_id": 1, "keypoints": np.array(WALKER_A).reshape(-1).tolist(), "score": 0.9}
        for i in (10, 11, 12, 15)
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recs))
    got = read_coco_keypoints(path)
    assert got.num_frames == 6 and got.start_frame == 10
    assert (got.keypoint_score[0, 3:5] == 0).all() and (got.keypoint_score[0, 5] > 0).any()


def test_coco_ground_truth_annotations(tmp_path):
    a = np.array(WALKER_A)
    a[:, 2] = 2
    a[3:5] = 0  # ears not labelled
    data = {
        "images": [
            {"id": 100 + i, "file_name": f"frame_{i:04d}.jpg", "height": 576, "width": 768} for i in range(3)
        ],
        "annotations": [
            {
                "id": i,
                "image_id": 100 + i,
                "category_id": 1,
                "keypoints": (a + [i, 0, 0]).reshape(-1).tolist(),
            }
            for i in (0, 2)
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    got = read_coco_keypoints(path)
    assert got.img_shape == (576, 768)
    assert got.num_frames == 3 and got.num_persons == 1
    assert set(np.unique(got.keypoint_score).tolist()) == {0.0, 1.0}
    assert (got.keypoint_score[0, 1] == 0).all()  # image 101 has no annotation
    assert (got.keypoint_score[0, 0, 3:5] == 0).all()


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"foo": 1}', "not a COCO keypoint file"),
        ('[{"image_id": 1, "keypoints": [1, 2, 3]}]', "keypoint numbers"),
        ('[{"image_id": 1}]', "needs 'image_id' and 'keypoints'"),
        ('[{"image_id": 1, "keypoints": "abc"}]', "not a list of numbers"),
        ("[]", "no person"),
    ],
)
def test_coco_malformed(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FileFormatError, match=message) as e:
        read_coco_keypoints(path)
    assert str(path) in str(e.value)


def test_coco_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_coco_keypoints(tmp_path / "nope.json")


# --- AlphaPose -------------------------------------------------------------------------


def test_alphapose_round_trip(tmp_path):
    clip = walkers()
    path = tmp_path / "alphapose-results.json"
    write_alphapose(path, clip)
    recs = json.loads(path.read_text())
    assert recs[0]["image_id"].endswith(".jpg") and "box" in recs[0]
    got = read_alphapose(path, fps=10.0, img_shape=(576, 768))
    assert sorted(track_ids(got)) == [3, 7]
    assert_same_people(got, clip)


def test_alphapose_list_idx_and_halpe26(tmp_path):
    clip = walkers()
    path = tmp_path / "ap.json"
    write_alphapose(path, clip)
    recs = json.loads(path.read_text())
    for r in recs:
        r["idx"] = [float(r["idx"])]  # PoseFlow writes ids like this
        r["keypoints"] = r["keypoints"] + [1.0, 2.0, 0.5] * 9  # Halpe-26: 9 extra joints
    path.write_text(json.dumps(recs))
    got = read_alphapose(path)
    assert got.num_joints == 17 and sorted(track_ids(got)) == [3, 7]
    assert_same_people(got, clip)


def test_alphapose_malformed(tmp_path):
    path = tmp_path / "ap.json"
    path.write_text(json.dumps({"people": []}))
    with pytest.raises(FileFormatError, match="not an AlphaPose results file"):
        read_alphapose(path)
    path.write_text(json.dumps([{"image_id": "0.jpg", "keypoints": [0.0] * 50, "idx": 1}]))
    with pytest.raises(FileFormatError, match="50 keypoint numbers"):
        read_alphapose(path)


# --- OpenPose --------------------------------------------------------------------------


def test_openpose_coco18_round_trip(tmp_path):
    clip = to_openpose18(walkers())
    folder = tmp_path / "json"
    files = write_openpose(folder, clip, prefix="vtest")
    assert len(files) == T and files[0].name == "vtest_000000000000_keypoints.json"
    got = read_openpose(folder, fps=10.0)
    assert got.layout == "openpose18" and got.fps == 10.0
    assert sorted(track_ids(got)) == [3, 7]
    assert_same_people(got, clip)


def test_openpose_body25_untracked(tmp_path):
    clip = to_openpose18(walkers())
    folder = tmp_path / "body25"
    folder.mkdir()
    for t in range(T):
        people = []
        for m in range(2):
            arr18 = np.concatenate([clip.keypoint[m, t], clip.keypoint_score[m, t][:, None]], 1)
            if not (arr18[:, 2] > 0).any():
                continue
            arr25 = np.zeros((25, 3))
            arr25[BODY25_TO_OPENPOSE18] = arr18
            arr25[8] = (arr18[8] + arr18[11]) / 2  # MidHip
            arr25[19:25] = [arr18[13, 0], arr18[13, 1] + 5, 0.3]  # feet near the ankles
            people.append({"person_id": [-1], "pose_keypoints_2d": arr25.reshape(-1).tolist()})
        # frame 10 sorts before frame 9 by name unless numbers are used
        (folder / f"cam_{t}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people[::-1]}))
    got = read_openpose(folder)
    assert got.num_persons == 2
    assert_same_people(got, clip)


def test_openpose_malformed(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    with pytest.raises(FileFormatError, match="no OpenPose .json files"):
        read_openpose(folder)
    bad = folder / "x_000000000000_keypoints.json"
    bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 60}]}))
    with pytest.raises(FileFormatError, match="60 numbers") as e:
        read_openpose(folder)
    assert str(bad) in str(e.value)
    bad.write_text(json.dumps({"version": 1.3}))
    with pytest.raises(FileFormatError, match="no 'people' list"):
        read_openpose(folder)
    bad.write_text(json.dumps({"version": 1.3, "people": []}))
    with pytest.raises(FileFormatError, match="no person in 1 OpenPose frame"):
        read_openpose(folder)
    with pytest.raises(FileFormatError, match="no such file"):
        read_openpose(tmp_path / "missing")
