"""How much of the prompt term to add: the default detector's ROC-AUC at several prompt weights,
with the protocol's prompts and with the benchmark's wrong prompt, over pretraining seeds.

    python benchmarks/prompt_weight_sweep.py study/default/seed0 study/default/seed1 study/default/seed2 \
        [--data-root ../shared/data] [--benchmarks sbu-violence k3hi-violence ...]

Each argument is a seed folder of scripts/seed_study.py (``models/without-<dataset>.safetensors``).
Features are computed once per fold; every weight and prompt set reuses them. Prints, per
benchmark and weight, the mean ± std over seeds of the fold-mean AUC, and the gaps the
prompt work is judged by: right prompt minus OoD only (weight 0), wrong prompt minus OoD only.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.evaluation.protocols import get_benchmark
from skelprompt.model import load_model

PROMPTED = ("sbu-violence", "k3hi-violence", "msr-violence", "urfd-fall")
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def fold_aucs(bench_name: str, model_path: Path, data_root: str) -> dict[tuple[float, str], float]:
    """{(weight, "right"|"wrong"): fold-mean AUC} for one leave-out model."""
    bench = get_benchmark(bench_name)
    model = load_model(model_path)
    prompt_sets = {"right": list(bench.prompts), "wrong": list(bench.wrong_prompts)}
    res: dict[tuple[float, str], list[float]] = {}
    for fold in bench.load_folds(data_root):
        det = Detector(model, DetectorConfig())
        det.fit_features(*det.features(fold.fit, for_fit=True))
        ft, et, xt = det.features(fold.test)
        for w in WEIGHTS:
            for kind, prompts in prompt_sets.items():
                s = det.with_options(prompt_weight=w).score_features(ft, et, prompts, None, extra=xt)
                res.setdefault((w, kind), []).append(roc_auc_score(fold.labels, s.anomaly))
    return {k: float(np.mean(v)) for k, v in res.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed_dirs", nargs="+", type=Path)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--benchmarks", nargs="+", default=list(PROMPTED))
    args = ap.parse_args()
    for name in args.benchmarks:
        dataset = get_benchmark(name).dataset
        runs = [
            fold_aucs(name, d / "models" / f"without-{dataset}.safetensors", args.data_root)
            for d in args.seed_dirs
        ]
        print(
            f"\n{name} ({len(runs)} seeds)  weight: right prompt | wrong prompt | right - OoD | wrong - OoD"
        )
        ood = statistics.fmean(r[(0.0, "right")] for r in runs)
        for w in WEIGHTS:
            right = [r[(w, "right")] for r in runs]
            wrong = [r[(w, "wrong")] for r in runs]
            sd = statistics.stdev(right) if len(right) > 1 else 0.0
            print(
                f"  {w:4.2f}: {statistics.fmean(right):.3f} ± {sd:.3f} | {statistics.fmean(wrong):.3f}"
                f" | {statistics.fmean(right) - ood:+.3f} | {statistics.fmean(wrong) - ood:+.3f}"
            )


if __name__ == "__main__":
    main()
