"""The prompt study: how much the wording of the prompts matters.

Each prompt set (the protocol's prompts, every single phrasing, their ensemble, anomaly minus
normal prompts, normal prompts only) is scored alone and summed with the model's k-NN OoD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from skelprompt.detector import Detector
from skelprompt.evaluation.features import Features, TextEmbedder
from skelprompt.evaluation.metrics import evaluate, mean_std
from skelprompt.evaluation.protocols import Benchmark, Fold
from skelprompt.evaluation.variants import ood_plus_prompt
from skelprompt.scoring import prompt_score


@dataclass(frozen=True)
class PromptSet:
    label: str
    kind: str  # "phrasing" | "ensemble" (max over phrasings) | "minus" (anomaly - normal) | "normal"
    anomaly: list[str]
    normal: list[str]


def study_sets(bench: Benchmark, study_normal: list[str]) -> list[PromptSet]:
    """The prompt sets studied on ``bench``; ``study_normal``: the templated normal-class prompts."""
    sets: list[PromptSet] = []
    if bench.prompts:
        sets.append(PromptSet("protocol", "phrasing", list(bench.prompts), []))
        for p in bench.phrasings:
            sets.append(PromptSet(p, "phrasing", [p], []))
        ens = list(dict.fromkeys(list(bench.prompts) + list(bench.phrasings)))
        sets.append(PromptSet("ensemble (max over all phrasings)", "ensemble", ens, []))
        sets.append(PromptSet("anomaly minus normal", "minus", list(bench.prompts), study_normal))
        sets.append(PromptSet("ensemble minus normal", "minus", ens, study_normal))
    sets.append(PromptSet("normal-only (templated)", "normal", [], study_normal))
    raw_names = [n for n in bench.normal if n != "normal"]
    if raw_names and raw_names != study_normal:
        sets.append(PromptSet("normal-only (bare class names)", "normal", [], raw_names))
    return sets


def study_rows(
    fold: Fold, sets: list[PromptSet], text: TextEmbedder, det_knn: Detector, fit: Features, test: Features
) -> list[tuple[str, dict[str, Any]]]:
    """(set label, this fold's row) per set: the AUC of the prompt evidence alone and summed
    with the k-NN OoD of ``det_knn`` (fitted on ``fit``), with ``det_knn``'s evidence and with
    the paper's cosine (``*_cosine``); for ensembles also the mean cosine embedding's."""
    ef, et = fit[1], test[1]
    ood = det_knn.ood_distance(test[0])
    out = []
    for s in sets:
        a_emb, n_emb = text(s.anomaly), text(s.normal)
        row: dict[str, Any] = {
            "fold": fold.name,
            "kind": s.kind,
            "prompts": s.anomaly,
            "normal_prompts": s.normal,
        }
        evidences = {
            "": (det_knn.prompt_evidence(et, s.anomaly, s.normal), det_knn.prompt_evidence(ef, s.anomaly, s.normal)),
            "_cosine": (prompt_score(et.astype(np.float64), a_emb, n_emb), prompt_score(ef.astype(np.float64), a_emb, n_emb)),
        }  # fmt: skip
        for suffix, (ps, pnorm) in evidences.items():
            row[f"prompt_only{suffix}"] = evaluate(fold.labels, ps)["auc"]
            row[f"full_sum_knn{suffix}"] = evaluate(fold.labels, ood_plus_prompt(det_knn, ood, ps, pnorm))[
                "auc"
            ]
        if s.kind == "ensemble" and a_emb is not None:  # also the mean-embedding ensemble
            m = a_emb.mean(0, keepdims=True)
            m /= np.linalg.norm(m)
            row["prompt_only_mean_embedding"] = evaluate(
                fold.labels, prompt_score(et.astype(np.float64), m, None)
            )["auc"]
        out.append((s.label, row))
    return out


def summarise_study(study: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per set: mean and std over folds; plus the spread of the single phrasings' AUCs."""
    rows = {}
    keys = (
        "prompt_only",
        "full_sum_knn",
        "prompt_only_cosine",
        "full_sum_knn_cosine",
        "prompt_only_mean_embedding",
    )
    for label, fs in study.items():
        r: dict[str, Any] = {
            "kind": fs[0]["kind"],
            "prompts": fs[0]["prompts"],
            "normal_prompts": fs[0]["normal_prompts"],
        }
        r.update({k: mean_std([f[k] for f in fs]) for k in keys if k in fs[0]})
        r["folds"] = fs
        rows[label] = r
    out: dict[str, Any] = {"sets": rows}
    for key, suffix in (("phrasing_spread", ""), ("phrasing_spread_cosine", "_cosine")):
        phr = [
            r[f"prompt_only{suffix}"]["mean"]
            for r in rows.values()
            if r["kind"] == "phrasing" and r[f"prompt_only{suffix}"]["mean"] is not None
        ]
        if phr:
            out[key] = {
                "n": len(phr),
                "mean": float(np.mean(phr)),
                "std": float(np.std(phr)),
                "min": float(np.min(phr)),
                "max": float(np.max(phr)),
            }
    return out
