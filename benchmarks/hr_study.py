"""Which detector settings win on HR-ShanghaiTech / HR-Avenue: one feature pass, many detectors.

Run: python benchmarks/hr_study.py --set hr-avenue [--data-root ../shared/data] [--cache DIR]
     [--fit-windows N] [--length 2.0 --stride 1.0] [--limit-videos N]

Cuts the videos as `skelprompt benchmark hr-*` does, encodes every person window once (kept in
``--cache`` as .npz, so a second run skips it), then fits and scores a grid of detector
settings on those features: OoD sources, one detector per camera or pooled, k, the prompt's
weight and evidence, and a mean-joint-speed term. Prints micro and macro frame AUC (the
benchmark's smoothing) of each row, the OoD-only row beside it, and the prompt gain.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt.datasets.hr_vad import HR_SETS
from skelprompt.detector import Detector
from skelprompt.evaluation.baselines import mean_joint_speed
from skelprompt.evaluation.frame_level import evaluate_frames
from skelprompt.evaluation.hr_benchmark import (
    ALL_SOURCES,
    HR_PROMPTS,
    HR_WRONG_PROMPTS,
    HRData,
    fit_groups,
    hr_config,
    load_hr,
    scene_groups,
    score_groups,
)
from skelprompt.evaluation.hr_benchmark import features_of as encode
from skelprompt.evaluation.hr_defaults import DEFAULT_FIT_WINDOWS
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S
from skelprompt.model import load_model, model_checksum

Features = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]


def cached_features(det: Detector, data: HRData, cache: Path | None, key: str) -> tuple[Features, Features]:
    """(training, test) features of every source, from ``cache`` when it holds them."""
    path = cache / f"{key}.npz" if cache else None
    if path is not None and path.exists():
        z = np.load(path)
        out = []
        for part in ("train", "test"):
            extra = {k.split("/", 2)[2]: z[k] for k in z.files if k.startswith(f"{part}/extra/")}
            out.append((z[f"{part}/feats"], z[f"{part}/embs"], extra))
        return out[0], out[1]
    train = encode(det, data.train.clips, True, print)
    test = encode(det, data.test.clips, False, print)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        for part, (f, e, x) in (("train", train), ("test", test)):
            arrays[f"{part}/feats"], arrays[f"{part}/embs"] = f, e
            arrays.update({f"{part}/extra/{k}": v for k, v in x.items()})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
    return train, test


def centre_frames(frames: np.ndarray, half: float) -> np.ndarray:
    """The frames within ``half`` frames of the middle of ``frames`` (at least the middle one)."""
    mid = (frames.min() + frames.max()) / 2
    keep = frames[np.abs(frames - mid) < half]
    return keep if keep.size else frames[[np.argmin(np.abs(frames - mid))]]


def zscore(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (x - ref.mean()) / max(float(ref.std()), 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=sorted(HR_SETS), default="hr-avenue")
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--cache", type=Path, default=None, help="folder for the encoded features")
    ap.add_argument("--fit-windows", type=int, default=DEFAULT_FIT_WINDOWS)
    ap.add_argument("--length", type=float, default=DEFAULT_LENGTH_S)
    ap.add_argument("--stride", type=float, default=DEFAULT_STRIDE_S)
    ap.add_argument("--limit-videos", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None, help="model file (default: the bundled model)")
    ap.add_argument(
        "--assign",
        choices=("window", "centre"),
        default="window",
        help="frames a person window's score goes to: all its visible frames (the benchmark's) "
        "or only those of its central stride (each frame then scored by the window centred on it)",
    )
    ap.add_argument("--rows", default="", help="only the rows whose label contains this text")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    hr = HR_SETS[args.set]
    model = load_model(args.model)
    data = load_hr(args.data_root, hr, args.length, args.stride, args.fit_windows, args.limit_videos)
    print(args.set, data.stats)
    key = hashlib.sha256(
        repr(
            (args.set, args.fit_windows, args.length, args.stride, args.limit_videos, model_checksum(model))
        ).encode()
    ).hexdigest()[:16]
    feature_det = Detector(model, hr_config(ood_features=ALL_SOURCES))
    train_f, test_f = cached_features(feature_det, data, args.cache, key)

    targets = data.test.targets
    if args.assign == "centre":
        half = args.stride * hr.fps / 2
        targets = replace(targets, frames=[centre_frames(f, half) for f in targets.frames])

    def frame_auc(scores: np.ndarray) -> tuple[float, float]:
        r = evaluate_frames(data.test_frames, data.test_labels, targets, scores)
        return float(r["micro_auc"]), float(r["macro_auc"])

    speed_train = np.array([mean_joint_speed(c) for c in data.train.clips])
    speed_test = np.array([mean_joint_speed(c) for c in data.test.clips])
    print(f"{'row':58s} {'micro':>6s} {'macro':>6s}   {'OoD micro':>9s} {'gain':>6s} {'wrong':>6s}")
    print("(gain: default - OoD only; wrong: wrong prompt - OoD only; micro AUC)")
    base = hr_config(ood_features="pose+model")
    grid: list[tuple[str, Any, bool, dict[str, Any]]] = []
    for sources in ("pose+model", "pose+model+place", "pose", "model"):
        for per_scene in (False, True):
            grid.append(
                (
                    f"{sources}, {'per camera' if per_scene else 'pooled'}",
                    replace(base, ood_features=sources),
                    per_scene,
                    {},
                )
            )
    for k in (1, 10, 20):
        grid.append((f"pose+model pooled, k={k}", replace(base, k=k), False, {}))
    grid.append(("pose+model pooled, no mirrors", replace(base, symmetric=False), False, {}))
    for w in (0.5, 1.0):
        grid.append((f"pose+model pooled, prompt weight {w}", replace(base, prompt_weight=w), False, {}))
    grid.append(("pose+model pooled, prompt guard none", replace(base, prompt_guard="none"), False, {}))
    grid.append(("pose+model pooled, cosine evidence", replace(base, prompt_evidence="cosine"), False, {}))
    for w in (0.25, 0.5, 1.0):
        grid.append((f"pose+model pooled + {w} x speed", base, False, {"speed": w}))

    for label, cfg, per_scene, extra in grid:
        if args.rows not in label:
            continue
        groups = scene_groups(data, per_scene)
        dets = fit_groups(model, cfg, train_f, groups)
        sc = score_groups(dets, test_f, groups, list(HR_PROMPTS))
        ood = sc.ood
        wrong = score_groups(dets, test_f, groups, list(HR_WRONG_PROMPTS)).anomaly
        anomaly = sc.anomaly
        if "speed" in extra:  # the normal windows' speeds set the scale
            term = extra["speed"] * zscore(speed_test, speed_train)
            anomaly, ood, wrong = anomaly + term, ood + term, wrong + term
        mi, ma = frame_auc(anomaly)
        o_mi, _ = frame_auc(ood)
        w_mi, _ = frame_auc(wrong)
        print(
            f"{label:58s} {mi:6.3f} {ma:6.3f}   {o_mi:9.3f} {mi - o_mi:+6.3f} {w_mi - o_mi:+6.3f}", flush=True
        )


if __name__ == "__main__":
    main()
