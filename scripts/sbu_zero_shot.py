"""SBU zero-shot check (sbu-violence protocol): ROC-AUC per combine, with and without normal prompts.

python scripts/sbu_zero_shot.py MODEL.safetensors [untrained] [--data-root DIR]
The model must be pretrained without SBU (``skelprompt pretrain --exclude sbu``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from skelprompt.datasets import sbu
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.model import extract_features, load_model, untrained_model

FOLDS = [[1, 9, 15, 19], [5, 7, 10, 16], [2, 3, 20, 21], [4, 6, 8, 11], [12, 13, 14, 17, 18]]
NORMAL = ["approaching", "departing", "hugging", "shaking hands", "exchanging"]
PROMPTS = ["kicking another person", "punching another person", "pushing another person"]


def evaluate(model, clips, fold_of) -> dict[str, str]:
    feats, embs = extract_features(model, clips)
    res = {}
    for ood in ("knn", "mahalanobis"):
        for normal_prompts in (None, NORMAL):
            for comb in ("ood", "prompt", "sum", "paper"):
                if comb == "ood" and normal_prompts:
                    continue
                aucs = []
                for f in range(5):
                    tr = [i for i, c in enumerate(clips) if fold_of[c.meta["set"]] != f and c.label in NORMAL]
                    te = [i for i, c in enumerate(clips) if fold_of[c.meta["set"]] == f]
                    det = Detector(model, DetectorConfig(ood=ood, combine=comb)).fit_features(
                        feats[tr], embs[tr]
                    )
                    s = det.score_features(feats[te], embs[te], PROMPTS, normal_prompts)
                    aucs.append(roc_auc_score([clips[i].label not in NORMAL for i in te], s.anomaly))
                key = f"{ood}/{comb}" + ("+normal" if normal_prompts else "")
                res[key] = f"{np.mean(aucs):.3f} ± {np.std(aucs):.3f}"
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    a = ap.parse_args()
    clips = sbu.load(Path(a.data_root))
    sets = sorted({c.meta["set"] for c in clips})
    fold_of = {sets[i - 1]: f for f, fl in enumerate(FOLDS) for i in fl}
    for m in a.models:
        model = untrained_model() if m == "untrained" else load_model(m)
        if m != "untrained":
            assert "sbu" not in model.provenance.get("datasets", {}), "model was pretrained on SBU"
        print(m, json.dumps(evaluate(model, clips, fold_of), indent=1), flush=True)


if __name__ == "__main__":
    main()
