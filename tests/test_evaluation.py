"""Benchmarks: protocols, metrics, error injectors, the runner's JSON and the leave-out check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skelprompt.errors import ModelError
from skelprompt.evaluation import baselines as B
from skelprompt.evaluation import protocols as P
from skelprompt.evaluation import robustness as R
from skelprompt.evaluation.leave_out import check_leave_out, pretraining_datasets
from skelprompt.evaluation.metrics import false_alarm_at_recall, per_class_auc, roc_auc


def _ids(clips):
    return [c.frame_dir for c in clips]


@pytest.fixture(scope="module")
def sbu(data_root):
    from skelprompt.datasets.registry import load_dataset

    return load_dataset("sbu", data_root)


def test_sbu_folds_use_the_readme_sets(sbu):
    sets = sorted({c.meta["set"] for c in sbu})
    assert sets[0] == "s01s02" and sets[-1] == "s07s03"
    fold_sets = P.sbu_fold_sets(sbu)
    assert fold_sets[0] == [sets[0], sets[8], sets[14], sets[18]]
    assert sorted(s for f in fold_sets for s in f) == sets
    folds = P.sbu_folds(sbu)
    tested = [d for f in folds for d in _ids(f.test)]
    assert sorted(tested) == sorted(_ids(sbu))  # each clip tested exactly once
    for f, fs in zip(folds, fold_sets, strict=True):
        assert {c.meta["set"] for c in f.test} == set(fs)
        assert not {c.meta["set"] for c in f.fit} & set(fs)
        assert all(c.label in P.SBU_NORMAL for c in f.fit)
        assert f.labels.sum() == sum(c.label in P.VIOLENCE for c in f.test)


def test_k3hi_stratified_folds(data_root):
    from skelprompt.datasets.registry import load_dataset

    clips = load_dataset("k3hi", data_root)
    fi = P.k3hi_fold_index(clips)
    for cls in {c.meta["class"] for c in clips}:
        idx = [i for i, c in enumerate(clips) if c.meta["class"] == cls]
        ids = sorted(idx, key=lambda i: clips[i].meta["seq_id"])
        assert [fi[i] for i in ids] == [r % 5 for r in range(len(ids))]
        counts = np.bincount([fi[i] for i in idx], minlength=5)
        assert counts.max() - counts.min() <= 1
    folds = P.k3hi_folds(clips)
    assert sorted(d for f in folds for d in _ids(f.test)) == sorted(_ids(clips))


@pytest.mark.parametrize("name", list(P.BENCHMARKS))
def test_no_anomalous_clip_is_ever_fitted(name, data_root):
    bench = P.get_benchmark(name)
    for f in bench.load_folds(data_root):
        assert f.fit and len(f.test) == len(f.labels) == len(f.classes)
        assert all(c.label in bench.normal for c in f.fit)
        assert not set(map(id, f.fit)) & set(map(id, f.test))
        assert 0 < f.labels.sum() < len(f.labels)
        if name == "urfd-fall":
            assert all(max(c.meta["frame_labels"]) == 0 for c in f.fit)
            assert all(c.num_frames == P.URFD_WINDOW for c in f.test)
            assert all(
                (max(c.meta["frame_labels"]) > 0) == bool(y) for c, y in zip(f.test, f.labels, strict=True)
            )


def test_protocol_details(data_root):
    msr = P.load_folds("msr-violence", data_root)[0]
    assert all(c.meta["used_in_cvpr12"] for c in msr.fit + msr.test)
    assert all(c.meta["subject"] % 2 == 1 for c in msr.fit) and all(
        c.meta["subject"] % 2 == 0 for c in msr.test
    )
    ucla = P.load_folds("ucla-novel", data_root)[0]
    assert {c.meta["view"] for c in ucla.fit} == {1, 2} and {c.meta["view"] for c in ucla.test} == {3}
    jh = P.load_folds("jhmdb-novel", data_root)
    assert [f.name for f in jh] == ["split1", "split2", "split3"]
    urfd = P.load_folds("urfd-fall", data_root)
    videos = [sorted({c.meta["video"] for c in f.test}) for f in urfd]
    assert videos[0] == [f"fall-{i:02d}" for i in range(1, 7)]
    assert sum(len(v) for v in videos) == 30


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        y[:2] = [0, 1]
        s = np.round(rng.normal(size=40), 1)  # ties included
        assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))


def test_per_class_auc_and_false_alarms():
    y = np.array([0, 0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.9])
    cls = ["n", "n", "n", "n", "a", "b"]
    pc = per_class_auc(y, s, cls)
    assert pc == {"a": pytest.approx(0.75), "b": pytest.approx(1.0)}
    # 90% recall of 2 anomalies needs both: threshold 0.35 -> 1 of 4 normals above
    assert false_alarm_at_recall(y, s, 0.9) == pytest.approx(0.25)


def test_error_injectors(sbu):
    rng = np.random.default_rng(0)
    clip = sbu[0]
    dropped = R.drop_joints(clip, 0.3, rng)
    before, after = (clip.keypoint_score > 0).sum(), (dropped.keypoint_score > 0).sum()
    assert 1 - after / before == pytest.approx(0.3, abs=0.01)
    assert (dropped.keypoint[dropped.keypoint_score == 0] == 0).all()
    noisy = R.gaussian_noise(clip, 0.1, rng)
    ok = clip.keypoint_score > 0
    assert (noisy.keypoint - clip.keypoint)[ok].std() / R._torso(clip) == pytest.approx(0.1, rel=0.1)
    sw = R.swap_persons(clip, 0.4, rng)
    s, e = sw.meta["swapped_frames"]
    assert (e - s) == round(0.4 * clip.num_frames)
    np.testing.assert_array_equal(sw.keypoint[0, s:e], clip.keypoint[1, s:e])
    np.testing.assert_array_equal(sw.keypoint[1, s:e], clip.keypoint[0, s:e])
    np.testing.assert_array_equal(sw.keypoint[:, :s], clip.keypoint[:, :s])
    ex = R.extra_person(clip, sbu[5], rng)
    assert ex.num_persons == clip.num_persons + 1 and ex.num_frames == clip.num_frames
    np.testing.assert_array_equal(ex.keypoint[:2], clip.keypoint)
    ex.validate()
    assert clip.num_persons == 2  # input untouched


def test_baselines_shapes(sbu):
    d = B.raw_pose_descriptor(sbu[0], persons=2)
    assert d.shape == (2 * 32 * 13 * 2,) and np.isfinite(d).all()
    assert B.neg_min_person_distance(sbu[0]) < 0
    assert B.mean_joint_speed(sbu[0]) > 0


def test_leave_out_check():
    assert check_leave_out({"untrained": True}, "sbu") == "untrained"
    prov = {"kind": "pretrained", "datasets": {"k3hi": 312, "msr": 566}, "excluded_datasets": ["sbu"]}
    assert pretraining_datasets(prov) == ["k3hi", "msr"]
    assert check_leave_out(prov, "sbu") == "verified"
    with pytest.raises(ModelError, match="not valid"):
        check_leave_out(prov, "k3hi")
    with pytest.raises(ModelError):
        check_leave_out({"datasets": ["nw_ucla"]}, "nw_ucla")
    assert check_leave_out({"kind": "pretrained"}, "sbu") == "unverified"


def test_tiny_run_json_schema(data_root, tmp_path):
    from skelprompt.commands.common import write_json
    from skelprompt.detector import DetectorConfig
    from skelprompt.evaluation.report import markdown_report
    from skelprompt.evaluation.runner import run_benchmark
    from skelprompt.model import untrained_model

    model = untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1)
    r = run_benchmark(
        "sbu-violence", data_root, model, max_folds=2, peer=False, prompt_study=False, control=False,
        detector_variants=[("skelprompt default", DetectorConfig(), "protocol")],
    )  # fmt: skip
    write_json(tmp_path / "r.json", r)
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["benchmark"] == "sbu-violence" and len(j["protocol"]["folds"]) == 2
    assert j["model"]["leave_out_check"] == "untrained" and len(j["model"]["checksum"]) == 64
    assert j["protocol"]["prompts"] == P.VIOLENCE_PROMPTS
    for key in ("ood[knn]", "ood[mahalanobis]", "prompt", "full-sum[knn]", "full-paper[mahalanobis]",
                "baseline: raw-pose k-NN", "baseline: mean joint speed", "baseline: neg. min person distance"):  # fmt: skip
        res = j["results"][key]
        assert len(res["folds"]) == 2 and 0 <= res["auc"]["mean"] <= 1
        assert set(res["folds"][0]) >= {"fold", "auc", "far@90", "per_class"}
        assert set(res["per_class"]) == {"kicking", "punching", "pushing"}
    assert j["results"]["skelprompt default"]["auc"]["mean"] > 0.5
    assert j["timings"]["total"] > 0
    assert "| ood[knn] |" in markdown_report([j])


def test_symmetric_pose_ood(sbu):
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.model import untrained_model
    from skelprompt.pose_descriptor import descriptor_variants

    d = B.descriptors(sbu[:6], persons=2)
    v = descriptor_variants(d, 2).reshape(-1, d.shape[1])
    assert v.shape == (24, d.shape[1])
    np.testing.assert_allclose(descriptor_variants(v[6:12], 2)[1], d)  # mirror of mirror
    np.testing.assert_allclose(v[12:18].reshape(6, 2, -1)[:, 0], d.reshape(6, 2, -1)[:, 1])  # swapped
    cfg = DetectorConfig(ood_features="pose", combine="ood", k=1, pose_order_by_x=False)
    det = Detector(untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1), cfg).fit(sbu[:6])
    mirrored = [c.mirrored() for c in sbu[:6]]
    assert np.allclose(det.score(mirrored).ood, 0, atol=1e-4)  # a mirrored normal clip is at distance 0
    assert (det.stats["pose"]["normal_dist"] > 0).all()  # leave-one-out excludes a clip's own variants
    np.testing.assert_allclose(mirrored[0].mirrored().keypoint, sbu[0].keypoint, atol=1e-3)


def test_leave_out_check_reads_aliases_and_nested_records():
    with pytest.raises(ModelError, match="nw_ucla"):  # an alias, inside the nested pretrain record
        check_leave_out({"pretrain": {"sources": [{"name": "UCLA"}]}}, "nw_ucla")
    assert pretraining_datasets({"pretrain": {"data": "k3hi"}, "datasets": ["msr"]}) == ["msr", "k3hi"]
    assert check_leave_out({"exclude": "nw-ucla"}, "nw_ucla") == "verified"
    assert check_leave_out({"exclude": "sbu"}, "k3hi") == "unverified"


def test_prompt_study_sets():
    from skelprompt.evaluation.prompt_study import study_sets

    sbu = P.get_benchmark("sbu-violence")
    normal = P.normal_prompts_for(sbu)
    sets = study_sets(sbu, normal)
    labels = [s.label for s in sets]
    assert labels[: 1 + len(sbu.phrasings)] == ["protocol", *sbu.phrasings]
    ens = sets[labels.index("ensemble (max over all phrasings)")]
    assert ens.kind == "ensemble" and ens.anomaly[: len(sbu.prompts)] == list(sbu.prompts)
    assert len(ens.anomaly) == len(set(sbu.prompts) | set(sbu.phrasings))  # no prompt twice
    assert sets[labels.index("ensemble minus normal")].normal == normal
    # bare class names differ from the templated ones: both normal-only sets, last
    assert [(s.kind, s.normal) for s in sets[-2:]] == [("normal", normal), ("normal", list(sbu.normal))]
    novel = P.get_benchmark("ucla-novel")  # no anomaly prompts: normal-only sets alone
    assert {s.kind for s in study_sets(novel, P.normal_prompts_for(novel))} == {"normal"}
    urfd = P.get_benchmark("urfd-fall")  # its only normal class is "normal": no bare-name set
    assert [s.label for s in study_sets(urfd, P.normal_prompts_for(urfd))][-1] == "normal-only (templated)"


def test_with_options_and_ood_plus_prompt(sbu):
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.evaluation.variants import ood_plus_prompt
    from skelprompt.model import untrained_model
    from skelprompt.scoring import standardised

    model = untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1)
    det = Detector(model, DetectorConfig(ood_features="model", symmetric=False)).fit(sbu[:8])
    ood_only = det.with_options(combine="ood")
    assert det.config.combine == "sum" and ood_only.config.combine == "ood"  # the original untouched
    assert ood_only.normal_ood is det.normal_ood and ood_only.config.k == det.config.k
    ft, et, _ = det.features(sbu[8:14])
    ood = det.ood_distance(ft)
    assert det.normal_ood is not None
    np.testing.assert_array_equal(
        ood_only.score_features(ft, et).anomaly, standardised(ood, det.normal_ood, 99.0)
    )
    rng = np.random.default_rng(0)
    prompt, normal_prompt = rng.normal(size=6), rng.normal(size=8)
    expected = standardised(ood, det.normal_ood, 99.0) + standardised(prompt, normal_prompt, 99.0)
    np.testing.assert_array_equal(ood_plus_prompt(det, ood, prompt, normal_prompt), expected)  # bit for bit


def test_achieved_error_rates(sbu):
    clips = sbu[:6]
    assert R.achieved(clips, R.corrupt(clips, "clean", 0.0), "clean") == 0.0
    assert R.achieved(clips, R.corrupt(clips, "drop", 0.3, seed=1), "drop") == pytest.approx(0.3, abs=0.01)
    assert R.achieved(clips, R.corrupt(clips, "extra", 1.0, seed=1), "extra") == 1.0
    assert R.achieved(clips, R.corrupt(clips, "swap", 0.4, seed=1), "swap") == pytest.approx(0.4, abs=0.02)
    assert R.achieved(clips, R.corrupt(clips, "noise", 0.1, seed=1), "noise") == pytest.approx(0.1, rel=0.15)


def test_descriptor_sequences_put_persons_side_by_side(sbu):
    from skelprompt.evaluation.peer import descriptor_sequences

    d = B.descriptors(sbu[:3], persons=2)
    seq = descriptor_sequences(d, B.DESCRIPTOR_FRAMES)
    assert seq.shape == (3, B.DESCRIPTOR_FRAMES, 2 * 26)
    per_person = d.reshape(3, 2, B.DESCRIPTOR_FRAMES, 26)
    np.testing.assert_array_equal(seq[:, 5, 26:], per_person[:, 1, 5])  # person 1, frame 5
