"""Run one benchmark: the method's variants, the untrained-encoder control, the baselines, the
learned peer, prompt studies and (optionally) robustness, into one JSON-able dict.

This module is the protocol loop: load the folds, run every part on each fold (the parts live
in ``variants``, ``comparators``, ``prompt_study`` and ``robustness_study``) and assemble the
output. Features are computed once per clip and model and reused by every fold and variant.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.errors import ModelError
from skelprompt.evaluation import baselines as B
from skelprompt.evaluation.comparators import baseline_rows, cached_descriptors, peer_row
from skelprompt.evaluation.features import BenchPrompts, FeatureCache, TextEmbedder
from skelprompt.evaluation.leave_out import check_leave_out
from skelprompt.evaluation.metrics import evaluate, mean_std
from skelprompt.evaluation.prompt_study import study_rows, study_sets, summarise_study
from skelprompt.evaluation.protocols import Benchmark, Fold, get_benchmark, normal_prompts_for
from skelprompt.evaluation.robustness_study import RobustnessScorers, robustness_rows, summarise_robustness
from skelprompt.evaluation.variants import (
    DETECTOR_VARIANTS,
    ScoreRow,
    detector_variant_rows,
    model_feature_rows,
    normal_prompt_rows,
)
from skelprompt.model import model_checksum, untrained_model

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class _Options:
    baselines: bool
    peer: bool
    prompt_study: bool
    robustness: bool
    seed: int
    detector_variants: list[tuple[str, DetectorConfig, str]]


@dataclass
class _Run:
    """One benchmark run: its inputs, shared caches and the rows collected over the folds."""

    bench: Benchmark
    persons: int  # persons in the raw-pose descriptor
    models: dict[str, Any]  # "method" and, as a control, "untrained"
    caches: dict[str, FeatureCache]
    text: TextEmbedder
    prompts: BenchPrompts
    opts: _Options
    base_cache: dict[Any, Any] = field(default_factory=dict)  # raw-pose descriptors per clip
    results: dict[str, list[dict]] = field(default_factory=dict)
    study: dict[str, list[dict]] = field(default_factory=dict)
    robust: dict[str, dict[str, list[dict]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(
        default_factory=lambda: {"method_scoring": 0.0, "baselines": 0.0, "peer": 0.0}
    )

    def add(self, fold: Fold, rows: list[ScoreRow]) -> None:
        for key, scores in rows:
            self.results.setdefault(key, []).append(
                {"fold": fold.name, **evaluate(fold.labels, np.asarray(scores), fold.classes)}
            )


def _persons(folds: list[Fold]) -> int:
    return max(c.num_persons for f in folds for c in f.fit + f.test)


def _summarise(per_fold: list[dict]) -> dict:
    out: dict[str, Any] = {"folds": per_fold}
    out["auc"] = mean_std([f["auc"] for f in per_fold])
    out["far@90"] = mean_std([f["far@90"] for f in per_fold])
    classes = sorted({c for f in per_fold for c in f.get("per_class", {})})
    if classes:
        out["per_class"] = {
            c: mean_std([f["per_class"][c] for f in per_fold if c in f.get("per_class", {})]) for c in classes
        }
    return out


# ---------------------------------------------------------------- one fold
def _method_variants(run: _Run, fold: Fold) -> Detector:
    """Model-feature variants of every model, then the Detector variants; returns the method
    model's k-NN detector (on its features, no mirrors) that the studies build on."""
    dets: dict[str, dict[str, Detector]] = {}
    for mk, cache in run.caches.items():
        fit, test = cache.get(fold.fit), cache.get(fold.test)
        t = time.perf_counter()
        prefix = "" if mk == "method" else "untrained "
        rows, dets[mk] = model_feature_rows(cache.model, run.text.enc, fit, test, run.prompts, prefix)
        run.add(fold, rows)
        run.seconds["method_scoring"] += time.perf_counter() - t
    if run.opts.detector_variants:  # the product: skelprompt's Detector, end to end on the clips
        t = time.perf_counter()
        rows = detector_variant_rows(
            run.models["method"], run.text.enc, fold, run.prompts, run.opts.detector_variants
        )
        run.add(fold, rows)
        run.seconds["method_scoring"] += time.perf_counter() - t
    return dets["method"]["knn"]


def _comparators(run: _Run, fold: Fold) -> None:
    opts = run.opts
    if opts.baselines or opts.peer or opts.robustness:
        t = time.perf_counter()
        # also fills the descriptor cache that the peer and the robustness study read
        scores = B.baseline_scores(fold.fit, fold.test, run.persons, run.bench.two_person, run.base_cache)
        if opts.baselines:
            run.add(fold, baseline_rows(scores, fold, run.persons))
        run.seconds["baselines"] += time.perf_counter() - t
    if opts.peer:
        t = time.perf_counter()
        run.add(fold, [peer_row(fold, run.base_cache, run.persons, opts.seed)])
        run.seconds["peer"] += time.perf_counter() - t


def _studies(run: _Run, fold: Fold, det_knn: Detector) -> None:
    """The model's prompt evidence against its k-NN OoD: normal prompts subtracted, the prompt
    study and the robustness study (the Detector variants cover the other OoD sources)."""
    fit, test = run.caches["method"].get(fold.fit), run.caches["method"].get(fold.test)
    run.add(fold, normal_prompt_rows(det_knn, fit, test, run.prompts))
    if run.opts.prompt_study:
        sets = study_sets(run.bench, run.prompts.study_normal)
        for label, row in study_rows(fold, sets, run.text, det_knn, fit, test):
            run.study.setdefault(label, []).append(row)
    if run.opts.robustness:
        fit_desc = cached_descriptors(run.base_cache, fold.fit, run.persons)
        scorers = RobustnessScorers.fit(
            run.models["method"], run.text.enc, det_knn, fold, fit_desc,
            persons=run.persons, peer=run.opts.peer, seed=run.opts.seed,
        )  # fmt: skip
        rows = robustness_rows(fold, scorers, run.prompts, run.bench.two_person, run.opts.seed)
        for cname, variant, row in rows:
            run.robust.setdefault(cname, {}).setdefault(variant, []).append(row)


def _run_fold(run: _Run, fold: Fold) -> None:
    if len(fold.fit) < 3:
        raise ModelError(f"{run.bench.name} {fold.name}: only {len(fold.fit)} normal clips to fit on")
    det_knn = _method_variants(run, fold)
    _comparators(run, fold)
    _studies(run, fold, det_knn)


# ---------------------------------------------------------------- the run
def _prompts(
    bench: Benchmark, text: TextEmbedder, prompts: list[str] | None, normal: list[str] | None
) -> BenchPrompts:
    """The run's prompts: given or the protocol's; normal prompts only without anomaly prompts."""
    anomaly = list(prompts) if prompts is not None else list(bench.prompts)
    if normal is None:
        normal = [] if anomaly else normal_prompts_for(bench)
    return BenchPrompts.embed(text, anomaly, normal, normal_prompts_for(bench), list(bench.wrong_prompts))


def run_benchmark(
    name: str,
    data_root: str | os.PathLike[str] | None = None,
    model=None,
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    *,
    control: bool = True,
    baselines: bool = True,
    peer: bool = True,
    prompt_study: bool = True,
    robustness: bool = False,
    max_folds: int | None = None,
    seed: int = 0,
    check_model: bool = True,
    detector_variants: list[tuple[str, DetectorConfig, str]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Everything for one benchmark; see the module docstring. ``model=None`` = untrained only.

    ``detector_variants``: (name, DetectorConfig, normal prompts: "protocol" | "study") run
    end to end through :class:`Detector` (default: :data:`DETECTOR_VARIANTS`).
    """
    t_start = time.perf_counter()
    say = log or (lambda s: None)
    bench = get_benchmark(name)
    t = time.perf_counter()
    folds = bench.load_folds(data_root)[:max_folds]
    timings = {"load": time.perf_counter() - t}

    ctrl_model = untrained_model("small", seed=0)
    method_model = model if model is not None else ctrl_model
    provenance = dict(getattr(method_model, "provenance", {}) or {})
    leave_out = check_leave_out(provenance, bench.dataset) if check_model else "not checked"
    models = {"method": method_model}
    if control and model is not None and model_checksum(model) != model_checksum(ctrl_model):
        models["untrained"] = ctrl_model
    text = TextEmbedder(method_model)
    opts = _Options(baselines, peer, prompt_study, robustness, seed,
                    DETECTOR_VARIANTS if detector_variants is None else detector_variants)  # fmt: skip
    run = _Run(bench, _persons(folds), models, {k: FeatureCache(m) for k, m in models.items()}, text,
               _prompts(bench, text, prompts, normal_prompts), opts)  # fmt: skip
    for fold in folds:
        say(f"{name} {fold.name}: fit {len(fold.fit)} normal clips, test {len(fold.test)}")
        _run_fold(run, fold)

    control_model = ctrl_model if "untrained" in models or model is None else None
    out = _output(run, folds, provenance, leave_out, control_model)
    timings.update(_timings(run))
    timings["total"] = time.perf_counter() - t_start
    out["timings"] = timings
    out["environment"] = _environment(data_root, seed)
    return out


# ---------------------------------------------------------------- the output
def _output(
    run: _Run, folds: list[Fold], provenance: dict, leave_out: str, control_model: Any | None
) -> dict[str, Any]:
    bench, prompts, method_model = run.bench, run.prompts, run.models["method"]
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": bench.name,
        "dataset": bench.dataset,
        "protocol": {
            "normal": list(bench.normal),
            "anomalous": list(bench.anomalous),
            "prompts": prompts.anomaly,
            "normal_prompts": prompts.normal,
            "study_normal_prompts": prompts.study_normal,
            "phrasings": list(bench.phrasings),
            "persons_in_descriptor": run.persons,
            "folds": [
                {"name": f.name, "fit": len(f.fit), "test": len(f.test), "anomalous": int(f.labels.sum())}
                for f in folds
            ],
        },
        "model": {
            "checksum": model_checksum(method_model),
            "provenance": provenance,
            "path": getattr(method_model, "source_path", None),
            "leave_out_check": leave_out,
            "untrained": bool(provenance.get("untrained")),
        },
        "control": {"checksum": model_checksum(control_model), "provenance": control_model.provenance}
        if control_model is not None
        else None,
        "results": {k: _summarise(v) for k, v in run.results.items()},
    }
    if run.opts.prompt_study:
        out["prompt_study"] = summarise_study(run.study)
    if run.opts.robustness:
        out["robustness"] = summarise_robustness(run.robust)
    return out


def _timings(run: _Run) -> dict[str, float]:
    return {
        "features": sum(c.seconds for c in run.caches.values()),
        "clips_encoded": sum(c.count for c in run.caches.values()),
        **run.seconds,
    }


def _environment(data_root: str | os.PathLike[str] | None, seed: int) -> dict[str, Any]:
    return {
        "skelprompt": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data_root": str(Path(data_root).resolve()) if data_root else None,
        "seed": seed,
    }
