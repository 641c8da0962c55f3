"""Sweep detector options on one benchmark with a leave-out model (features computed once per fold).

Usage: python scripts/sweep_detector.py BENCHMARK MODEL.safetensors [DATA_ROOT]
Prints ROC-AUC (mean ± std over folds) of every combination, best first.
"""

import sys

import numpy as np
from sklearn.metrics import roc_auc_score

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.evaluation.protocols import get_benchmark, normal_prompts_for
from skelprompt.model import load_model

name, model_path = sys.argv[1], sys.argv[2]
bench = get_benchmark(name)
folds = bench.load_folds(sys.argv[3] if len(sys.argv) > 3 else None)
model = load_model(model_path)
ap = list(bench.prompts) or None
npp = normal_prompts_for(bench)
res: dict[str, list[float]] = {}
for fold in folds:
    for src in ("pose", "pose+random", "pose+model", "random", "model", "pose+random+model"):
        for sym in (True, False):
            det = Detector(model, DetectorConfig(ood_features=src, symmetric=sym))
            ff, ef, xf = det.features(fold.fit, for_fit=True)
            det.fit_features(ff, ef, xf)
            ft, et, xt = det.features(fold.test)
            for pw in (0.0, 0.25, 0.5, 1.0):
                for nk in ("none", "normal"):
                    if pw == 0 and nk == "normal":
                        continue
                    if ap is None and nk == "none" and pw > 0:
                        continue
                    opts = dict(
                        prompt_weight=pw, normal_weight=0.5 if ap else 1.0, combine="sum" if pw > 0 else "ood"
                    )
                    s = det.with_options(**opts).score_features(
                        ft, et, ap, npp if nk == "normal" else None, extra=xt
                    )
                    key = f"{src:18s} sym={int(sym)} pw={pw} normal={nk}"
                    res.setdefault(key, []).append(roc_auc_score(fold.labels, s.anomaly))
for k, v in sorted(res.items(), key=lambda kv: -np.mean(kv[1])):
    print(f"{k}  {np.mean(v):.3f} ± {np.std(v):.3f}")
