"""The calibrated prompt evidence: softmax against normal anchors, prompt ensembles, the guard
on the prompt term, and detector files from before these options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.metrics import roc_auc_score

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.config import LEGACY_PROMPT_OPTIONS
from skelprompt.detector.detector import persons_of
from skelprompt.evaluation.protocols import WRONG_PROMPTS, load_folds
from skelprompt.model import load_model, untrained_model
from skelprompt.model.text import get_text_encoder
from skelprompt.prompts import NORMAL_ANCHORS, ensemble_embeddings, prompt_phrasings
from skelprompt.scoring import best_person, combine_scores, guarded, softmax_evidence
from tests.helpers import NORMAL_SBU, require_data_root, sbu_clips

BUNDLED = "src/skelprompt/weights/default.safetensors"


def test_an_anchor_equal_to_the_anomaly_prompt_halves_its_probability() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(1, 16))
    y /= np.linalg.norm(y)
    far = np.linalg.qr(np.concatenate([y.T, rng.normal(size=(16, 3))], 1))[0][:, 1:].T  # orthogonal to y
    clip = y.copy()
    alone = softmax_evidence(clip, y, far, scale=14.0)
    tied = softmax_evidence(clip, y, np.concatenate([far, y]), scale=14.0)
    probability = 1.0 / (1.0 + np.exp(-tied))
    assert alone[0] > 10  # far anchors: the anomaly prompt takes nearly all the mass
    assert probability[0] == pytest.approx(0.5, abs=1e-4)


def test_guard_only_lets_evidence_above_the_normal_footage_in() -> None:
    p = np.array([-3.0, 0.5, 2.0])
    np.testing.assert_allclose(guarded(p, "zero"), [0, 0.5, 2])
    np.testing.assert_allclose(guarded(p, "percentile"), [0, 0, 1])
    normal = np.linspace(0, 1, 101)
    _, _, summed = combine_scores(normal[:3], np.array([-5.0, -5.0, -5.0]), normal, normal, guard="zero")
    _, _, ood_only = combine_scores(normal[:3], np.zeros(3), normal, normal, method="ood")
    np.testing.assert_allclose(summed, ood_only)  # evidence below the normal footage adds nothing


def test_phrasings_follow_the_pretraining_templates() -> None:
    assert "a person kicking another person" in prompt_phrasings("kicking another person")
    assert "two people fighting" in prompt_phrasings("people fighting")
    assert "a person is falling down" in prompt_phrasings("a person falling down")


def test_ensembles_are_the_normalised_mean_and_one_intent_counts_once() -> None:
    enc = get_text_encoder()
    (row,) = ensemble_embeddings(enc.encode, ["a person falling down"])
    mean = enc.encode(prompt_phrasings("a person falling down")).astype(np.float64).mean(0)
    np.testing.assert_allclose(row, mean / np.linalg.norm(mean), atol=1e-6)
    det = Detector(untrained_model("small", seed=0), DetectorConfig(ood_features="model"))
    embs = np.random.default_rng(1).normal(size=(5, det.model.cfg.text_dim))
    embs /= np.linalg.norm(embs, axis=1, keepdims=True)
    once = det.prompt_evidence(embs, ["a person falling down"])
    twice = det.prompt_evidence(embs, ["a person falling down", "a person  falling down"])
    np.testing.assert_allclose(once, twice)
    assert len(NORMAL_ANCHORS) == len(set(NORMAL_ANCHORS))


@pytest.fixture(scope="module")
def sbu_fold():
    require_data_root()
    fold = load_folds("sbu-violence")[0]
    det = Detector(load_model(BUNDLED), DetectorConfig()).fit(fold.fit)
    return det, fold, det.features(fold.test)


def test_a_wrong_prompt_does_not_pull_the_default_below_ood_only(sbu_fold) -> None:
    det, fold, (ft, et, extra) = sbu_fold
    ood = det.with_options(combine="ood").score_features(ft, et, extra=extra).anomaly
    wrong = det.score_features(ft, et, list(WRONG_PROMPTS["sbu-violence"]), extra=extra).anomaly
    assert roc_auc_score(fold.labels, wrong) >= roc_auc_score(fold.labels, ood) - 0.005


def test_old_detector_files_keep_the_cosine_evidence(tmp_path) -> None:
    clips = sbu_clips()
    train = [c for c in clips if c.label in NORMAL_SBU][:20]
    det = Detector(untrained_model("small", seed=0), DetectorConfig(ood_features="model")).fit(train)
    path, old = tmp_path / "new.safetensors", tmp_path / "old.safetensors"
    det.save(path)
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
    cfg = {k: v for k, v in json.loads(meta["detector_config"]).items() if k not in LEGACY_PROMPT_OPTIONS}
    save_file(load_file(str(path)), str(old), metadata={**meta, "detector_config": json.dumps(cfg)})
    back = Detector.load(old)
    assert back.config.prompt_evidence == "cosine" and back.config.prompt_guard == "none"
    assert Detector.load(path).config.prompt_evidence == DetectorConfig().prompt_evidence
    legacy = det.with_options(**LEGACY_PROMPT_OPTIONS)
    a = back.score(clips[:6], prompts="punching another person").anomaly
    np.testing.assert_allclose(
        a, legacy.score(clips[:6], prompts="punching another person").anomaly, rtol=1e-6
    )


def test_best_person_takes_the_highest_of_a_clip_and_its_persons() -> None:
    clip = np.array([0.0, -2.0, 5.0])
    out = best_person(clip, np.array([1.0, -1.0, -3.0, 4.0]), np.array([0, 0, 1, 2]))
    np.testing.assert_allclose(out, [1.0, -2.0, 5.0])  # clip 1 keeps its own; 2 its own higher
    np.testing.assert_allclose(best_person(clip, np.zeros(0), np.zeros(0, int)), clip)


def test_one_person_prompts_score_a_group_by_its_best_person(tmp_path) -> None:
    clips = sbu_clips()
    train = [c for c in clips if c.label in NORMAL_SBU][:20]
    det = Detector(load_model(BUNDLED), DetectorConfig()).fit(train)
    test = clips[-4:]
    _, embs, extra = det.features(test)
    group = det.with_options(prompt_persons="group")
    one, pair = "a person jumping", "punching another person"
    alone = [group.features([c.persons([m])])[1] for c in test for m in range(c.num_persons)]
    each = group.prompt_evidence(np.concatenate(alone), one).reshape(len(test), -1)
    whole = group.prompt_evidence(embs, one)
    expected = np.maximum(whole, each.max(1))
    np.testing.assert_allclose(det.prompt_evidence(embs, one, persons=persons_of(extra)), expected, rtol=1e-6)
    assert (each.max(1) > whole).any()  # a person alone does score differently from the pair
    # prompts about two people, and the paper's option, keep the group's evidence
    np.testing.assert_allclose(
        det.prompt_evidence(embs, pair, persons=persons_of(extra)), group.prompt_evidence(embs, pair)
    )
    np.testing.assert_allclose(group.score(test, one).prompt, whole, rtol=1e-6)
    # the normal clips' persons travel with the file
    det.save(tmp_path / "d.safetensors")
    back = Detector.load(tmp_path / "d.safetensors")
    np.testing.assert_allclose(back.score(test, one).anomaly, det.score(test, one).anomaly, rtol=1e-6)
