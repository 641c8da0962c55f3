"""The method's variants of one fold: each gives per-clip anomaly scores under a result label.

- on cached model features: prompt only, OoD only (k-NN, Mahalanobis) and both combined
  (``sum``, ``paper``), for the method's model and the untrained control;
- end to end through :class:`Detector` with its options (:data:`DETECTOR_VARIANTS`);
- the model's prompt evidence with the normal-class prompts subtracted, against its k-NN OoD.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.config import SCORE_TIME_FIELDS
from skelprompt.evaluation.features import BenchPrompts, Features
from skelprompt.evaluation.protocols import Fold
from skelprompt.model import SkeletonTextModel
from skelprompt.model.text import TextEncoder
from skelprompt.scoring import combine_scores, prompt_score

ScoreRow = tuple[str, np.ndarray]  # (result label, per-clip anomaly scores)

# (name, config, which prompts): "protocol" = the benchmark's own prompts only, "study" =
# plus the templated names of the normal classes as normal prompts, "wrong" = the benchmark's
# deliberately wrong anomaly prompt alone (protocols.WRONG_PROMPTS: the prompt guard's test)
DETECTOR_VARIANTS: list[tuple[str, DetectorConfig, str]] = [
    ("skelprompt default", DetectorConfig(), "protocol"),
    ("skelprompt default, wrong prompt", DetectorConfig(), "wrong"),
    ("skelprompt default, cosine evidence (paper)", DetectorConfig(prompt_evidence="cosine",
     prompt_ensemble=False, prompt_guard="none"), "protocol"),
    ("skelprompt default, cosine evidence, wrong prompt", DetectorConfig(prompt_evidence="cosine",
     prompt_ensemble=False, prompt_guard="none"), "wrong"),
    ("skelprompt default, percentile guard", DetectorConfig(prompt_guard="percentile"), "protocol"),
    ("skelprompt default, percentile guard, wrong prompt", DetectorConfig(prompt_guard="percentile"), "wrong"),
    ("skelprompt default + normal prompts", DetectorConfig(), "study"),
    ("skelprompt default, OoD only", DetectorConfig(combine="ood"), "protocol"),
    ("skelprompt pose+random + normal prompts", DetectorConfig(ood_features="pose+random"), "study"),
    ("skelprompt model + normal prompts", DetectorConfig(ood_features="model"), "study"),
    ("skelprompt pose (swap+mirror) OoD only", DetectorConfig(ood_features="pose", combine="ood"), "protocol"),
    ("skelprompt default, paper product", DetectorConfig(combine="paper"), "protocol"),
]  # fmt: skip

# The variants a seed study needs (they share one fit per fold: only score-time options differ);
# `skelprompt benchmark --variants core` runs these instead of all of DETECTOR_VARIANTS.
CORE_VARIANT_NAMES = (
    "skelprompt default",
    "skelprompt default, wrong prompt",
    "skelprompt default, cosine evidence (paper)",
    "skelprompt default, cosine evidence, wrong prompt",
    "skelprompt default, percentile guard",
    "skelprompt default, percentile guard, wrong prompt",
    "skelprompt default + normal prompts",
    "skelprompt default, OoD only",
)
VARIANT_SETS = ("all", "core")


def variant_set(name: str) -> list[tuple[str, DetectorConfig, str]]:
    """The Detector variants of a named set (:data:`VARIANT_SETS`)."""
    if name == "all":
        return list(DETECTOR_VARIANTS)
    if name == "core":
        return [v for v in DETECTOR_VARIANTS if v[0] in CORE_VARIANT_NAMES]
    raise ValueError(f"unknown variant set {name!r}; choose from {VARIANT_SETS}")


MODEL_FEATURE_OODS = ("knn", "mahalanobis")
MODEL_FEATURE_COMBINES = ("ood", "sum", "paper")


def ood_plus_prompt(
    det: Detector, ood: np.ndarray, prompt: np.ndarray, normal_prompt: np.ndarray
) -> np.ndarray:
    """Eq. 1 ``sum`` with the prompt at full weight: standardised OoD + standardised prompt.

    ``ood`` comes from ``det`` (calibrated on its normal clips' distances); ``normal_prompt`` is
    the prompt score of the same normal clips. Both use the detector's calibration percentile.
    """
    if det.normal_ood is None:
        raise ValueError("the detector is not fitted")
    return combine_scores(
        ood, prompt, det.normal_ood, normal_prompt, method="sum",
        percentile=det.config.calibration_percentile, prompt_weight=1.0,
    )[2]  # fmt: skip


def model_feature_rows(
    model: SkeletonTextModel,
    text_encoder: TextEncoder,
    fit: Features,
    test: Features,
    prompts: BenchPrompts,
    prefix: str = "",
) -> tuple[list[ScoreRow], dict[str, Detector]]:
    """Prompt only, then per OoD method: OoD only, full-sum and full-paper, on the model's own
    features (no mirrors). Also returns the fitted detectors by OoD method (combine "sum")."""
    ff, ef = fit
    ft, et = test
    rows: list[ScoreRow] = []
    dets: dict[str, Detector] = {}
    for ood in MODEL_FEATURE_OODS:
        cfg = DetectorConfig(ood=ood, ood_features="model", symmetric=False)
        det = Detector(model, cfg, text_encoder=text_encoder).fit_features(ff, ef)
        dets[ood] = det
        if not rows:  # the prompt evidence alone: the default's, then the paper's cosine
            rows.append((f"{prefix}prompt", det.prompt_evidence(et, prompts.anomaly, prompts.normal)))
            rows.append(
                (f"{prefix}prompt (cosine)", prompt_score(et.astype(np.float64), prompts.ya, prompts.yn))
            )
        for combine in MODEL_FEATURE_COMBINES:
            sc = det.with_options(combine=combine).score_features(
                ft, et, prompts.anomaly_or_none, prompts.normal_or_none
            )
            label = f"{prefix}ood[{ood}]" if combine == "ood" else f"{prefix}full-{combine}[{ood}]"
            rows.append((label, sc.anomaly))
    return rows, dets


def detector_variant_rows(
    model: SkeletonTextModel,
    text_encoder: TextEncoder,
    fold: Fold,
    prompts: BenchPrompts,
    variants: list[tuple[str, DetectorConfig, str]],
) -> list[ScoreRow]:
    """Each variant fitted on the fold's normal clips and scored on its test clips, end to end.
    Variants that differ only in score-time options share one fit and one feature pass."""
    rows: list[ScoreRow] = []
    fitted: dict[str, tuple[Detector, Any]] = {}
    for name, cfg, kind in variants:
        key = repr(replace(cfg, **{f: getattr(DetectorConfig(), f) for f in SCORE_TIME_FIELDS}))
        if key not in fitted:
            det = Detector(model, cfg, text_encoder=text_encoder).fit(fold.fit)
            fitted[key] = (det, det.features(fold.test))
        det, (ft, et, extra) = fitted[key]
        det = det.with_options(**{f: getattr(cfg, f) for f in SCORE_TIME_FIELDS})
        anomaly, normal = variant_prompts(prompts, kind)
        rows.append((name, det.score_features(ft, et, anomaly, normal, extra=extra).anomaly))
    return rows


def variant_prompts(prompts: BenchPrompts, kind: str) -> tuple[list[str] | None, list[str] | None]:
    """(anomaly prompts, normal prompts) of a detector variant's prompt kind."""
    if kind == "wrong":
        return prompts.wrong or None, None
    normal = prompts.study_normal if kind == "study" else prompts.normal
    return prompts.anomaly_or_none, normal or None


def normal_prompt_rows(
    det_knn: Detector, fit: Features, test: Features, prompts: BenchPrompts
) -> list[ScoreRow]:
    """(anomaly prompt - normal-class prompt) evidence, alone and summed with the k-NN OoD of
    ``det_knn``; none without anomaly prompts or normal-class names."""
    if prompts.ya is None or prompts.yn_study is None:
        return []
    ef64, et64 = fit[1].astype(np.float64), test[1].astype(np.float64)
    normal_prompt = prompt_score(ef64, prompts.ya, prompts.yn_study)
    prompt = prompt_score(et64, prompts.ya, prompts.yn_study)
    summed = ood_plus_prompt(det_knn, det_knn.ood_distance(test[0]), prompt, normal_prompt)
    return [("full-sum[knn] with (prompt - normal prompt)", summed), ("prompt - normal prompt", prompt)]
