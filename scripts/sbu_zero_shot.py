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
from skelprompt.evaluation.protocols import SBU_NORMAL, VIOLENCE_PROMPTS, sbu_fold_sets
from skelprompt.model import extract_features, load_model, untrained_model

# The sbu-violence protocol's classes and prompts; normal prompts are the bare class names here.
NORMAL = list(SBU_NORMAL)
PROMPTS = VIOLENCE_PROMPTS


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
    fold_of = {s: f for f, sets in enumerate(sbu_fold_sets(clips)) for s in sets}
    for m in a.models:
        model = untrained_model() if m == "untrained" else load_model(m)
        if m != "untrained":
            assert "sbu" not in model.provenance.get("datasets", {}), "model was pretrained on SBU"
        print(m, json.dumps(evaluate(model, clips, fold_of), indent=1), flush=True)


if __name__ == "__main__":
    main()
