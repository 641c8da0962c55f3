"""The detector: fitting, scoring, score-time options, OoD scorers (one defined here, to show
that a new scorer needs only its own code) and detector files."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Self

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.metrics import roc_auc_score

from skelprompt.detector import SCORERS, Detector, DetectorConfig, OoDScorer, make_scorer, register_scorer
from skelprompt.detector.scorers import require_tensor
from skelprompt.detector.scorers.knn import KnnScorer
from skelprompt.detector.scorers.mahalanobis import MahalanobisScorer
from skelprompt.errors import ModelError
from skelprompt.model import save_model, untrained_model
from skelprompt.scoring import knn_distance
from tests.helpers import NORMAL_SBU, sbu_clips

PROMPTS, NORMAL_PROMPTS = ["kicking another person"], ["two people hugging"]


def small_model():
    return untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1)


@register_scorer("centroid")
class CentroidScorer(OoDScorer):
    """Euclidean distance to the mean of the normal rows: a scorer that lives outside the package."""

    def _fit_statistics(self) -> None:
        self.centroid = self.normal.mean(0)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(x, np.float64) - self.centroid, axis=1)

    def cross_fitted(self, x_original: np.ndarray) -> np.ndarray:
        means = [self.normal[self.groups != i].mean(0) for i in range(len(x_original))]
        return np.linalg.norm(x_original - np.stack(means), axis=1)

    def to_tensors(self) -> dict[str, np.ndarray]:
        return {**super().to_tensors(), "centroid": self.centroid}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        scorer = super().from_tensors(tensors, params)
        scorer.centroid = require_tensor(tensors, "centroid", (scorer.normal.shape[1],))
        return scorer


# ---------------------------------------------------------------- fitting and scoring
@pytest.fixture(scope="module")
def sbu_split():
    clips = sbu_clips()
    train = [c for c in clips if c.meta["set"] not in ("s01s02", "s01s03") and c.label in NORMAL_SBU]
    test = [c for c in clips if c.meta["set"] in ("s01s02", "s01s03")]
    return train, test


@pytest.mark.parametrize("ood", ["knn", "mahalanobis"])
def test_detector_fits_scores_and_thresholds_on_sbu(sbu_split, ood) -> None:
    train, test = sbu_split
    cfg = DetectorConfig(ood=ood, ood_features="model", false_alarm_rate=0.1)
    det = Detector(untrained_model(seed=0), cfg).fit(train)
    s = det.score(test)
    y = np.array([c.label not in NORMAL_SBU for c in test])
    assert roc_auc_score(y, s.ood) > 0.5  # an untrained encoder already separates somewhat
    normal_scores = det.score(train)
    # threshold from cross-fitted normal scores: in-sample false alarms stay below the rate
    assert (normal_scores.anomaly > s.threshold).mean() <= 0.1
    assert np.array_equal(det.predict(test), s.is_anomaly.astype(int))


def test_prompts_change_the_score(sbu_split) -> None:
    train, test = sbu_split
    det = Detector(untrained_model(seed=0), DetectorConfig(ood_features="model")).fit(train)
    plain = det.score(test)
    prompted = det.score(test, prompts=["kicking another person"], normal_prompts=["two people hugging"])
    np.testing.assert_allclose(plain.ood, prompted.ood)
    assert not np.allclose(plain.anomaly, prompted.anomaly)
    assert prompted.prompts == ["kicking another person"]


def test_detector_save_load_round_trip(sbu_split, tmp_path) -> None:
    train, test = sbu_split
    model = untrained_model(seed=4)
    det = Detector(model, DetectorConfig(ood="mahalanobis", ood_features="model", combine="paper")).fit(train)
    path = tmp_path / "det.safetensors"
    det.save(path)
    back = Detector.load(path, expect_model=model)
    a = det.score(test, prompts=["punching another person"])
    b = back.score(test, prompts=["punching another person"])
    np.testing.assert_allclose(a.anomaly, b.anomaly, rtol=1e-5, atol=1e-7)
    assert np.ptp(a.anomaly) > 0 and (a.p_prompt > 0).all()  # the paper's product, not all 0
    assert a.threshold == pytest.approx(b.threshold)
    with pytest.raises(ModelError, match="fitted with another model"):
        Detector.load(path, expect_model=untrained_model(seed=5))
    mpath = tmp_path / "model.safetensors"
    save_model(mpath, model)
    with pytest.raises(ModelError, match="not a skelprompt detector file"):
        Detector.load(mpath)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ModelError, match="cut.safetensors"):
        Detector.load(cut)


def test_detector_needs_clips_and_fitting() -> None:
    det = Detector(untrained_model())
    with pytest.raises(ModelError, match="not fitted"):
        det.score(sbu_clips()[:2])
    with pytest.raises(ModelError, match="at least 3"):
        det.fit(sbu_clips()[:2])


def test_multi_source_symmetric_detector_round_trip(sbu_split, tmp_path) -> None:
    train, test = sbu_split
    cfg = DetectorConfig(ood_features="pose+random+model", prompt_weight=0.5, normal_weight=0.5)
    train = train[::2]  # half the normal clips keep this test quick
    det = Detector(untrained_model(seed=6), cfg).fit(train)
    # the pose source holds 4 variants per clip (as is, mirrored, swapped, both), encoders 2
    assert det.stats["pose"]["normal"].shape[0] == 4 * len(train)
    assert det.stats["random"]["normal"].shape[0] == 2 * len(train)
    # leave-one-out excludes each clip's own mirror: no normal clip is at distance 0
    assert (det.stats["pose"]["normal_dist"] > 1e-6).all()
    s = det.score(test, prompts=["kicking another person"], normal_prompts=["two people hugging"])
    y = np.array([c.label not in NORMAL_SBU for c in test])
    assert roc_auc_score(y, s.ood) > 0.7
    path = tmp_path / "multi.safetensors"
    det.save(path)
    back = Detector.load(path)
    s2 = back.score(test, prompts=["kicking another person"], normal_prompts=["two people hugging"])
    np.testing.assert_allclose(s.anomaly, s2.anomaly, rtol=1e-6, atol=1e-8)


def test_bad_detector_options_are_clear() -> None:
    with pytest.raises(ValueError, match="bad ood_features"):
        DetectorConfig(ood_features="pose+telepathy")
    with pytest.raises(ValueError, match="unknown OoD method"):
        DetectorConfig(ood="lof")


# ---------------------------------------------------------------- OoD scorers
def test_scorer_registry_lists_and_makes_scorers() -> None:
    assert SCORERS["knn"] is KnnScorer and SCORERS["mahalanobis"] is MahalanobisScorer
    assert SCORERS["centroid"] is CentroidScorer and CentroidScorer.name == "centroid"
    assert vars(make_scorer("knn", k=3))["k"] == 3
    with pytest.raises(ValueError, match=r"unknown OoD method 'lof'; choose from .*'knn'"):
        make_scorer("lof")
    with pytest.raises(ValueError, match="'knn' is already registered"):
        register_scorer("knn")(CentroidScorer)
    assert DetectorConfig(ood="centroid").scorer_params() == {}
    assert DetectorConfig(k=7).scorer_params() == {"k": 7}


def test_scorers_match_the_equations_and_check_their_tensors() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    knn = make_scorer("knn", k=3).fit(x)
    # without variants, cross-fitting is plain leave-one-out
    np.testing.assert_array_equal(knn.cross_fitted(x), knn_distance(x, x, 3, exclude_self=True))
    # rows of a clip's group (here a near-copy of it) are left out of its own distance
    twin = make_scorer("knn", k=1).fit(np.concatenate([x, x + 1e-9]), np.tile(np.arange(30), 2))
    assert (twin.cross_fitted(x) > 1e-3).all()
    maha = make_scorer("mahalanobis").fit(x)
    assert maha.cross_fitted(x).shape == (30,) and (maha.decision_function(x[:3] * 50) > 10).all()
    for scorer in (knn, maha):
        back = type(scorer).from_tensors(scorer.to_tensors(), {"k": 3} if scorer is knn else {})
        np.testing.assert_array_equal(back.decision_function(x[:5]), scorer.decision_function(x[:5]))
    bad = {**maha.to_tensors(), "precision": np.eye(3)}
    with pytest.raises(ModelError, match=r"'precision' has shape \(3, 3\), expected \(4, 4\)"):
        MahalanobisScorer.from_tensors(bad, {})
    with pytest.raises(ModelError, match="'groups' is missing"):
        KnnScorer.from_tensors({"normal": x}, {"k": 3})


def test_a_scorer_defined_outside_the_package_works_by_name(sbu_split, tmp_path) -> None:
    train, test = sbu_split
    train = train[::3]
    det = Detector(small_model(), DetectorConfig(ood="centroid")).fit(train)
    pose = det.scorers["pose"]
    assert isinstance(pose, CentroidScorer) and len(pose.normal) == 4 * len(train)
    # clip 0's cross-fitted distance is to the mean of the other clips' rows, variants included
    others = pose.normal[pose.groups != 0].mean(0)
    assert det.normal_dists["pose"][0] == pytest.approx(np.linalg.norm(pose.normal[0] - others))
    s = det.score(test, PROMPTS, NORMAL_PROMPTS)
    assert roc_auc_score([c.label not in NORMAL_SBU for c in test], s.ood) > 0.5
    path = tmp_path / "centroid.safetensors"
    det.save(path)
    with safe_open(str(path), "np") as f:
        assert {"ood.pose.centroid", "ood.model.centroid", "ood.model.normal_dist"} <= set(f.keys())
    back = Detector.load(path)
    assert isinstance(back.scorers["model"], CentroidScorer)
    np.testing.assert_array_equal(back.score(test, PROMPTS, NORMAL_PROMPTS).anomaly, s.anomaly)


# ---------------------------------------------------------------- score-time options, checksum
@pytest.fixture(scope="module")
def fitted(sbu_split):
    """A small default detector, its features and the test features."""
    train, test = sbu_split
    det = Detector(small_model(), DetectorConfig())
    fit_feats = det.features(train[::3], for_fit=True)
    det.fit_features(*fit_feats)
    return det, fit_feats, det.features(test)


def test_with_options_shares_the_fit_and_scores_as_a_fresh_fit(fitted) -> None:
    det, (ff, ef, xf), (ft, et, xt) = fitted
    before = replace(det.config)
    for changes in (
        {"combine": "paper"},
        {"prompt_weight": 1.0, "normal_weight": 0.2},
        {"calibration_percentile": 95.0},
        {"false_alarm_rate": 0.2},
    ):
        quick = det.with_options(**changes)
        assert quick.scorers is det.scorers and quick.config != det.config
        fresh = Detector(det.model, replace(det.config, **changes), det.text_encoder()).fit_features(
            ff, ef, xf
        )
        a = quick.score_features(ft, et, PROMPTS, NORMAL_PROMPTS, extra=xt)
        b = fresh.score_features(ft, et, PROMPTS, NORMAL_PROMPTS, extra=xt)
        for field in ("ood", "prompt", "p_ood", "p_prompt", "anomaly"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), (changes, field)
        assert a.threshold == b.threshold
    assert det.config == before
    with pytest.raises(ValueError, match="k, symmetric: only score-time options"):
        det.with_options(k=3, symmetric=False, combine="ood")


def test_checksum_names_the_fitted_detector(fitted, tmp_path) -> None:
    det = fitted[0]
    c = det.checksum()
    assert re.fullmatch("[0-9a-f]{64}", c)
    path = tmp_path / "det.safetensors"
    det.save(path)
    assert Detector.load(path).checksum() == c
    assert det.with_options().checksum() == c
    assert det.with_options(prompt_weight=1.0).checksum() != c
    with pytest.raises(ModelError, match="not fitted"):
        Detector(det.model).checksum()


# ---------------------------------------------------------------- bad detector files
def rewrite(src, dst, meta: dict[str, str | None] | None = None, tensors: dict[str, Any] | None = None):
    """``src`` written again to ``dst`` with metadata fields / tensors replaced (None = removed)."""
    with safe_open(str(src), "pt") as f:
        metadata: dict[str, Any] = dict(f.metadata())
    state: dict[str, Any] = load_file(str(src))
    for store, changes in ((metadata, meta or {}), (state, tensors or {})):
        for k, v in changes.items():
            store.pop(k) if v is None else store.__setitem__(k, v)
    save_file(state, str(dst), metadata=metadata)
    return dst


def _config(path, key: str, **changes: Any) -> str:
    with safe_open(str(path), "pt") as f:
        return json.dumps({**json.loads(f.metadata()[key]), **changes})


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("detector_config", "[1, 2]", "metadata field 'detector_config' must be a JSON object, got list"),
        ("detector_config", None, "metadata field 'detector_config' is missing"),
        ("version", "abc", "metadata field 'version' must be an integer, got 'abc'"),
        ("version", "2", "detector file version 2 is newer"),
        ("info", "{not json", "metadata field 'info' is not JSON"),
        ("model_provenance", "[]", "metadata field 'model_provenance' must be a JSON object"),
        ("model_config", "7", "metadata field 'model_config' must be a JSON object, got int"),
        (
            "detector_config",
            {"k": "five"},
            "'detector_config': detector option k must be of type int, got 'five'",
        ),
        ("detector_config", {"k": 0}, "'detector_config': k must be at least 1, got 0"),
        ("detector_config", {"symmetric": "yes"}, "detector option symmetric must be of type bool"),
        ("detector_config", {"ood": "lof"}, "'detector_config': unknown OoD method 'lof'"),
        ("detector_config", {"colour": "red"}, r"'detector_config' has unknown options \['colour'\]"),
        (
            "model_config",
            {"embed_dims": "abc"},
            "model config: embed_dims must be a list, got 'abc'",
        ),
        ("model_config", {"text_dim": -3}, "model config: text_dim must be >= 1, got -3"),
        ("model_config", {"points": []}, "model config: points must be a JSON object"),
        (
            "model_config",
            {"points": {"frames": 1.5}},
            "model config: points.frames must be an integer, got 1.5",
        ),
        (
            "model_config",
            {"text_dim": 128},
            r"embeddings \(\d+, 384\) do not fit the model's text dimension 128",
        ),
        ("model_config", {"embed_dims": [16, 64]}, r"'ood.model.normal' has shape \(\d+, 32\), expected"),
    ],
)
def test_bad_metadata_is_a_clear_error(fitted, tmp_path, field, value, match) -> None:
    good = tmp_path / "good.safetensors"
    fitted[0].save(good)
    if isinstance(value, dict):
        value = _config(good, field, **value)
    bad = rewrite(good, tmp_path / "bad.safetensors", meta={field: value})
    with pytest.raises(ModelError, match=match) as e:
        Detector.load(bad)
    assert str(e.value).startswith(f"{bad}: ")


def test_bad_statistics_are_clear_errors(fitted, tmp_path) -> None:
    good = tmp_path / "good.safetensors"
    fitted[0].save(good)
    state = load_file(str(good))
    n = state["detector.normal_ood"].shape[0]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ood.model.mean": None}, "statistics of OoD source 'model': tensor 'mean' is missing"),
        (
            {"ood.model.precision": state["ood.model.mean"][:3, None].repeat(1, 3)},
            r"'precision' has shape \(3, 3\)",
        ),
        (
            {"ood.pose.normal": state["ood.pose.normal"][:, :10].contiguous()},
            r"'ood.pose.normal' has shape \(\d+, 10\)",
        ),
        ({"ood.pose.normal_dist": state["ood.pose.normal_dist"][:-1]}, rf"expected \({n},\)"),
        ({"ood.pose.groups": state["ood.pose.groups"] + 0.5}, "'groups' must hold non-negative clip indices"),
        ({"detector.normal_ood": None}, r"detector statistics missing \('detector.normal_ood'\)"),
        ({"model.projection.0.weight": None}, "stored model weights do not match"),
    ]
    for tensors, match in cases:
        bad = rewrite(good, tmp_path / "bad.safetensors", tensors=tensors)
        with pytest.raises(ModelError, match=match):
            Detector.load(bad)
    listed = tmp_path / "list.safetensors"
    listed.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00[]")
    with pytest.raises(ModelError, match="list.safetensors: not a safetensors file"):
        Detector.load(listed)


def test_taking_some_clips_keeps_their_persons_with_them():
    from skelprompt.detector.sources import PERSON_CLIP, PERSON_EMBEDDINGS, take_features

    feats, embs = np.arange(8.0).reshape(4, 2), np.arange(12.0).reshape(4, 3)
    extra = {
        "pose": np.arange(4.0)[:, None],
        PERSON_EMBEDDINGS: np.array([[1.0, 1, 1], [2, 2, 2], [3, 3, 3]]),
        PERSON_CLIP: np.array([1, 1, 3]),
    }
    f, e, x = take_features((feats, embs, extra), np.array([3, 0, 1]))
    assert f.tolist() == feats[[3, 0, 1]].tolist() and x["pose"].ravel().tolist() == [3.0, 0.0, 1.0]
    assert x[PERSON_CLIP].tolist() == [2, 2, 0]  # clip 1 is now at 2, clip 3 at 0
    assert x[PERSON_EMBEDDINGS][:, 0].tolist() == [1.0, 2.0, 3.0]
