"""ROC-AUC of the default detector with an exact k-NN memory bank against reduced (coreset) banks.

Run: SKELPROMPT_CACHE=DIR python benchmarks/bank_auc.py [--banks 0 1000 20000] [--max-folds N]
     [NAME ...]

Each benchmark's leave-one-out model comes from the cache (as `skelprompt benchmark`; never
trained here). Features are computed once per fold; each bank size is then fitted on them and
scored, with the protocol's prompts ("default") and without ("OoD only"). Prints the mean AUC
over folds per bank and its difference from the first bank (give 0, exact, first). The bank
rows actually kept are printed too: a bank larger than the normal set changes nothing.
`skelprompt benchmark NAME --bank-size N --no-peer` gives the full table for one size.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from skelprompt.commands.benchmark import benchmark_threads, resolve_model
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.evaluation.metrics import evaluate
from skelprompt.evaluation.protocols import BENCHMARKS, get_benchmark, normal_prompts_for
from skelprompt.model.text import get_text_encoder


def fold_aucs(name: str, banks: list[int], max_folds: int | None) -> tuple[dict, dict]:
    """``({(bank, scoring): [AUC per fold]}, {bank: largest bank rows kept})``."""
    bench = get_benchmark(name)
    model = resolve_model(bench.dataset, None, train=False)
    text = get_text_encoder(model.cfg.text_encoder)
    anomaly = list(bench.prompts)
    normal = [] if anomaly else normal_prompts_for(bench)
    aucs: dict[tuple[int, str], list[float]] = {}
    kept: dict[int, int] = {}
    for fold in bench.load_folds(None)[:max_folds]:
        base = Detector(model, DetectorConfig(), text_encoder=text)
        fit_feats, test = base.features(fold.fit, for_fit=True), base.features(fold.test)
        for bank in banks:
            det = Detector(model, replace(DetectorConfig(), bank_size=bank), text_encoder=text)
            det.fit_features(*fit_feats)
            kept[bank] = max(kept.get(bank, 0), *(v["rows"] for v in det.info["memory_bank"].values()))
            for label, d in (("default", det), ("OoD only", det.with_options(combine="ood"))):
                s = d.score_features(test[0], test[1], anomaly or None, normal or None, extra=test[2])
                aucs.setdefault((bank, label), []).append(evaluate(fold.labels, s.anomaly)["auc"])
    return aucs, kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", default=list(BENCHMARKS))
    ap.add_argument("--banks", type=int, nargs="+", default=[0, 1000, DetectorConfig().bank_size])
    ap.add_argument("--max-folds", type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(benchmark_threads())
    print("| benchmark | scoring | " + " | ".join(f"bank {b or 'all'}" for b in args.banks) + " |")
    print("|---|---|" + "---|" * len(args.banks), flush=True)
    for name in args.names:
        aucs, kept = fold_aucs(name, args.banks, args.max_folds)
        for label in ("default", "OoD only"):
            means = [float(np.mean(aucs[(b, label)])) for b in args.banks]
            cells = [f"{means[0]:.4f}"] + [f"{m:.4f} ({m - means[0]:+.4f})" for m in means[1:]]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |", flush=True)
        print(
            f"| {name} | rows kept (max over sources, folds) | "
            + " | ".join(str(kept[b]) for b in args.banks)
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
