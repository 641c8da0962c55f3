"""The robustness study: corrupt a fold's test clips (``evaluation.robustness``), recompute their
features and rescore them with scorers fitted once on the clean normal clips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.evaluation import baselines as B
from skelprompt.evaluation.features import BenchPrompts
from skelprompt.evaluation.metrics import evaluate, mean_std
from skelprompt.evaluation.peer import SequenceAutoencoder, descriptor_sequences
from skelprompt.evaluation.protocols import Fold
from skelprompt.evaluation.robustness import achieved, conditions, corrupt
from skelprompt.model import SkeletonTextModel, extract_features
from skelprompt.model.text import TextEncoder


@dataclass
class RobustnessScorers:
    """Everything fitted on a fold's clean normal clips that rescores corrupted test clips."""

    model: SkeletonTextModel
    det_knn: Detector  # OoD k-NN on model features (combine "sum")
    det_default: Detector  # the product's default detector
    knn_raw: B.DescriptorOoD
    maha_raw: B.DescriptorOoD
    peer: SequenceAutoencoder | None
    persons: int  # persons in the raw-pose descriptor

    @classmethod
    def fit(
        cls, model: SkeletonTextModel, text_encoder: TextEncoder, det_knn: Detector, fold: Fold,
        fit_desc: np.ndarray, persons: int, peer: bool, seed: int,
    ) -> RobustnessScorers:  # fmt: skip
        """``det_knn``: already fitted on the fold; ``fit_desc``: raw-pose descriptors of its fit clips."""
        knn_raw = B.DescriptorOoD("knn").fit(fit_desc)
        maha_raw = B.DescriptorOoD("mahalanobis").fit(fit_desc)
        peer_model = None
        if peer:
            sequences = descriptor_sequences(fit_desc, B.DESCRIPTOR_FRAMES)
            peer_model = SequenceAutoencoder(seed=seed).fit(sequences)
        det_default = Detector(model, DetectorConfig(), text_encoder=text_encoder).fit(fold.fit)
        return cls(model, det_knn, det_default, knn_raw, maha_raw, peer_model, persons)

    def scores(self, test: list[Clip], prompts: BenchPrompts) -> dict[str, np.ndarray]:
        """Variant name -> per-clip anomaly scores of the (corrupted) test clips."""
        ftc, etc = extract_features(self.model, test)
        out = {
            "ood[knn]": self.det_knn.ood_distance(ftc),
            "prompt": self.det_knn.prompt_evidence(etc, prompts.anomaly, prompts.normal),
        }
        out["skelprompt default"] = self.det_default.score(
            test, prompts.anomaly_or_none, prompts.normal_or_none
        ).anomaly
        out["full-sum[knn]"] = (
            self.det_knn.with_options(combine="sum")
            .score_features(ftc, etc, prompts.anomaly_or_none, prompts.normal_or_none)
            .anomaly
        )
        xt = B.descriptors(test, self.persons)
        out["baseline: mean joint speed"] = np.array([B.mean_joint_speed(c) for c in test])
        out["baseline: raw-pose k-NN"] = self.knn_raw.score(xt)
        out["baseline: raw-pose mahalanobis"] = self.maha_raw.score(xt)
        if self.peer is not None:
            out["peer: GRU autoencoder"] = self.peer.score(descriptor_sequences(xt, B.DESCRIPTOR_FRAMES))
        return out


def robustness_rows(
    fold: Fold, scorers: RobustnessScorers, prompts: BenchPrompts, two_person: bool, seed: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """(condition, variant, this fold's row) for every condition of the study and every variant."""
    out = []
    for cname, kind, level in conditions(two_person):
        test = corrupt(fold.test, kind, level, seed=seed + 1)
        rate = achieved(fold.test, test, kind)
        for variant, scores in scorers.scores(test, prompts).items():
            row = {"fold": fold.name, "auc": evaluate(fold.labels, scores)["auc"], "achieved": rate}
            out.append((cname, variant, row))
    return out


def summarise_robustness(robust: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per condition and variant: the AUC over folds, the achieved error rate and the folds."""
    return {
        c: {
            v: {"auc": mean_std([r["auc"] for r in rows]), "achieved": rows[0]["achieved"], "folds": rows}
            for v, rows in vs.items()
        }  # fmt: skip
        for c, vs in robust.items()
    }
