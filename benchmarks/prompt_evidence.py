"""Compare the prompt evidences on the benchmarks: prompt only, default, default with a wrong
prompt and OoD only, per evidence option set, from one fit per fold.

    python benchmarks/prompt_evidence.py sbu-violence urfd-fall --leave-out   # cached models
    python benchmarks/prompt_evidence.py sbu-violence --model FILE
    python benchmarks/prompt_evidence.py sbu-violence --untrained

Prints one line per benchmark and option set: the mean ROC-AUC over the folds.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.evaluation.metrics import evaluate
from skelprompt.evaluation.protocols import get_benchmark, normal_prompts_for
from skelprompt.model import load_model, untrained_model

# name -> score-time options (the first is the paper's cosine, as before these options)
OPTION_SETS: dict[str, dict[str, Any]] = {
    "cosine (old)": {"prompt_evidence": "cosine", "prompt_ensemble": False, "prompt_guard": "none"},
    "cosine+ens": {"prompt_evidence": "cosine", "prompt_ensemble": True, "prompt_guard": "none"},
    "softmax": {"prompt_evidence": "softmax", "prompt_ensemble": False, "prompt_guard": "none"},
    "softmax+ens": {"prompt_evidence": "softmax", "prompt_ensemble": True, "prompt_guard": "none"},
    **{
        f"softmax+ens+{g}": {"prompt_evidence": "softmax", "prompt_ensemble": True, "prompt_guard": g}
        for g in ("floor", "zero", "percentile")
    },
    "cosine+floor": {"prompt_evidence": "cosine", "prompt_ensemble": False, "prompt_guard": "floor"},
}
COLUMNS = ("prompt-only", "default", "wrong-prompt default", "ood-only")


def _model(args: argparse.Namespace, dataset: str) -> Any:
    if args.untrained:
        return untrained_model("small", seed=0)
    if args.model:
        return load_model(args.model)
    from skelprompt.commands.benchmark import leave_out_model_path

    return load_model(leave_out_model_path(dataset))


def run(name: str, args: argparse.Namespace) -> dict[str, list[float]]:
    bench = get_benchmark(name)
    folds = bench.load_folds(args.data_root)[: args.max_folds]
    det0 = Detector(_model(args, bench.dataset), DetectorConfig())
    clips = list({id(c): c for f in folds for c in f.fit + f.test}.values())
    index = {id(c): i for i, c in enumerate(clips)}
    feats, embs, extra = det0.features(clips, for_fit=True)
    anomaly = list(bench.prompts) or None
    normal = None if anomaly else normal_prompts_for(bench)
    wrong = list(bench.wrong_prompts)
    out: dict[str, list[list[float]]] = {k: [] for k in OPTION_SETS}
    for fold in folds:
        sel = {k: np.array([index[id(c)] for c in cs]) for k, cs in (("fit", fold.fit), ("test", fold.test))}
        ex = {k: {s: v[sel[k]] for s, v in extra.items()} for k in sel}
        det = Detector(det0.model, DetectorConfig()).fit_features(
            feats[sel["fit"]], embs[sel["fit"]], ex["fit"]
        )
        ft, et = feats[sel["test"]], embs[sel["test"]]
        for key, opts in OPTION_SETS.items():
            d = det.with_options(**opts)
            rows = [
                d.with_options(combine="prompt").score_features(ft, et, anomaly, normal, extra=ex["test"]),
                d.score_features(ft, et, anomaly, normal, extra=ex["test"]),
                d.score_features(ft, et, wrong, None, extra=ex["test"]),
                d.with_options(combine="ood").score_features(ft, et, extra=ex["test"]),
            ]
            out[key].append([evaluate(fold.labels, r.anomaly)["auc"] for r in rows])
    return {k: list(np.mean(v, axis=0)) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmarks", nargs="+")
    ap.add_argument("--model")
    ap.add_argument("--untrained", action="store_true")
    ap.add_argument("--leave-out", action="store_true", help="the cached leave-one-out models")
    ap.add_argument("--data-root")
    ap.add_argument("--max-folds", type=int)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| benchmark | options | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for name in args.benchmarks:
        for key, aucs in run(name, args).items():
            print(f"| {name} | {key} | " + " | ".join(f"{a:.3f}" for a in aucs) + " |", flush=True)


if __name__ == "__main__":
    main()
