"""Feedback replay: a benchmark's test stream played in time order, the first N false alarms
dismissed as an operator would (their windows join the detector's normal set through
``skelprompt.detector.feedback``), false alarms per hour at the same recall before and after.

    python benchmarks/feedback_replay.py urfd-fall --leave-out        # the leave-one-out encoder
    python benchmarks/feedback_replay.py urfd-fall --model FILE --recall 0.9 --dismiss 1 5 10

The stream: every fold's test clips in fold order (URFD: fall-01 ... fall-30, each video's
windows in time order; the clip benchmarks: the clips in their data set's order, each clip a
scene of its own), each scored by its fold's detector (fitted on the other folds' normal
clips, the benchmark's protocol), with the protocol's prompts. An alert is a run of
consecutive alerting windows of one video (a clip benchmark's alerting clip); a false alarm
is an alert with no anomalous window. Footage time: URFD windows add their 4-frame stride,
clips their length.
The operating point is the threshold at which a fraction ``--recall`` of the anomalous windows
alert. Playing the stream at the whole stream's threshold, the first N false alarms are
dismissed; their windows join every fold's detector (they are normal, and in the past). Both
detectors are then measured on the rest of the stream (after the N-th dismissed alert), each at
its own threshold for the same recall there: false alarms per hour of normal footage, AUC.
Control: as many normal windows from the same past, taken at random (not alerts), added
instead (mean over 5 draws).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.feedback import FALSE_ALARM, FEEDBACK_MODES, FeedbackLog, features_of, with_feedback
from skelprompt.evaluation.metrics import evaluate
from skelprompt.evaluation.protocols import get_benchmark
from skelprompt.model import load_model

CONTROL_DRAWS = 5


@dataclass
class Stream:
    video: np.ndarray  # [W] video name per window, time order
    labels: np.ndarray  # [W] 0 normal, 1 anomalous
    fold: np.ndarray  # [W] fold index
    seconds: np.ndarray  # [W] new footage each window adds (the stride), seconds


def _threshold(scores: np.ndarray, labels: np.ndarray, recall: float) -> float:
    """The highest threshold at which ``recall`` of the anomalous windows alert (score >= it)."""
    pos = np.sort(scores[labels == 1])[::-1]
    return float(pos[max(0, math.ceil(recall * len(pos)) - 1)])


def _alerts(alert: np.ndarray, video: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive alerting windows of one video, as index arrays."""
    runs: list[list[int]] = []
    for i in np.flatnonzero(alert):
        if runs and runs[-1][-1] == i - 1 and video[i] == video[i - 1]:
            runs[-1].append(int(i))
        else:
            runs.append([int(i)])
    return [np.array(r) for r in runs]


def _false_alarms(
    scores: np.ndarray, s: Stream, idx: np.ndarray, recall: float
) -> tuple[list[np.ndarray], float]:
    """False alarms (index arrays into the stream) among windows ``idx`` at ``recall``, and
    the hours of normal footage there."""
    t = _threshold(scores[idx], s.labels[idx], recall)
    runs = _alerts(scores[idx] >= t, s.video[idx])
    fas = [idx[r] for r in runs if not s.labels[idx[r]].any()]
    hours = float(s.seconds[idx][s.labels[idx] == 0].sum()) / 3600.0
    return fas, hours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmark", nargs="?", default="urfd-fall")
    ap.add_argument("--model", help="Model file (default: the bundled model).")
    ap.add_argument("--leave-out", action="store_true", help="The benchmark's leave-one-out encoder.")
    ap.add_argument("--recall", type=float, default=0.9)
    ap.add_argument("--dismiss", type=int, nargs="+", default=[1, 5, 10])
    ap.add_argument("--mode", default="nearest", choices=FEEDBACK_MODES, help="How dismissed windows count.")
    ap.add_argument(
        "--ood-only", action="store_true", help="Score by the OoD distance alone (no prompt term)."
    )
    ap.add_argument("--data-root")
    ap.add_argument("--json", help="Write the figures here as JSON.")
    args = ap.parse_args()
    bench = get_benchmark(args.benchmark)
    if args.leave_out:
        from skelprompt.commands.benchmark import leave_out_model_path

        model = load_model(leave_out_model_path(bench.dataset))
    else:
        model = load_model(args.model)
    folds = bench.load_folds(args.data_root)
    det0 = Detector(model, DetectorConfig())
    clips = list({id(c): c for f in folds for c in f.fit + f.test}.values())
    index = {id(c): i for i, c in enumerate(clips)}
    feats, embs, extra = det0.features(clips, for_fit=True)
    prompts = None if args.ood_only else (list(bench.prompts) or None)

    def rows(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        return feats[sel], embs[sel], {k: v[sel] for k, v in extra.items()}

    dets, test_sel = [], []
    for f in folds:
        fit = np.array([index[id(c)] for c in f.fit])
        test_sel.append(np.array([index[id(c)] for c in f.test]))
        dets.append(Detector(model, DetectorConfig()).fit_features(*rows(fit)))
    sel = np.concatenate(test_sel)
    test = [clips[i] for i in sel]
    s = Stream(
        video=np.array([_scene(bench.name, c, i) for i, c in enumerate(test)]),
        labels=np.concatenate([f.labels for f in folds]),
        fold=np.concatenate([np.full(len(f.test), k) for k, f in enumerate(folds)]),
        seconds=np.array([_stride_s(bench.name, c) for c in test]),
    )

    def score(detectors: list[Detector]) -> np.ndarray:
        out = np.empty(len(sel))
        for k, d in enumerate(detectors):
            m = s.fold == k
            f, e, x = rows(sel[m])
            out[m] = d.score_features(f, e, prompts, extra=x).anomaly
        return out

    before = score(dets)
    everything = np.arange(len(sel))
    fas_all, hours_all = _false_alarms(before, s, everything, args.recall)
    print(
        f"{bench.name}: {len(sel)} test windows in time order, {hours_all * 3600:.0f} s of normal footage; "
        f"at recall {args.recall:g}: {len(fas_all)} false alarms ({len(fas_all) / hours_all:.0f} an hour), "
        f"AUC {evaluate(s.labels, before)['auc']:.3f}"
    )
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {
        "benchmark": bench.name,
        "recall": args.recall,
        "windows": len(sel),
        "rows": [],
    }
    print(
        f"{'N':>3} {'rest (s)':>8} {'FA/h before':>11} {'FA/h after':>10} {'ratio':>6} {'control':>8} {'AUC before':>10} {'AUC after':>9}"
    )
    for n in args.dismiss:
        if n > len(fas_all):
            print(f"{n:>3} only {len(fas_all)} false alarms in the stream")
            continue
        dismissed = fas_all[:n]
        cut = int(dismissed[-1][-1]) + 1
        rest = np.arange(cut, len(sel))
        if not s.labels[rest].any():
            print(f"{n:>3} no anomalous window after the {n}-th false alarm")
            continue
        fb = np.concatenate(dismissed)
        after = score(_with_windows(dets, sel[fb], rows, args.mode))
        control = []
        past_normal = np.flatnonzero(s.labels[:cut] == 0)
        for _ in range(CONTROL_DRAWS):
            pick = rng.choice(past_normal, size=min(len(fb), len(past_normal)), replace=False)
            c = score(_with_windows(dets, sel[pick], rows, args.mode))
            control.append(len(_false_alarms(c, s, rest, args.recall)[0]))
        fa_b, hours = _false_alarms(before, s, rest, args.recall)
        fa_a, _ = _false_alarms(after, s, rest, args.recall)
        row = {
            "dismissed": n, "windows_added": len(fb), "rest_normal_s": round(hours * 3600, 1),
            "fa_before": len(fa_b), "fa_after": len(fa_a), "fa_control": float(np.mean(control)),
            "fa_per_hour_before": len(fa_b) / hours, "fa_per_hour_after": len(fa_a) / hours,
            "fa_per_hour_control": float(np.mean(control)) / hours,
            "auc_before": evaluate(s.labels[rest], before[rest])["auc"],
            "auc_after": evaluate(s.labels[rest], after[rest])["auc"],
        }  # fmt: skip
        results["rows"].append(row)
        ratio = row["fa_per_hour_after"] / max(row["fa_per_hour_before"], 1e-9)
        print(
            f"{n:>3} {row['rest_normal_s']:>8.0f} {row['fa_per_hour_before']:>11.0f} {row['fa_per_hour_after']:>10.0f} "
            f"{ratio:>6.2f} {row['fa_per_hour_control']:>8.0f} {row['auc_before']:>10.3f} {row['auc_after']:>9.3f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def _scene(name: str, clip: Any, i: int) -> str:
    """What consecutive alerting windows must share to be one alert: URFD's video, else the clip."""
    return str(clip.meta.get("video")) if name == "urfd-fall" else str(i)


def _stride_s(name: str, clip: Any) -> float:
    """Seconds of new footage a window adds to the stream: its stride."""
    from skelprompt.evaluation.protocols import URFD_STRIDE

    fps = clip.fps or 30.0
    return (URFD_STRIDE if name == "urfd-fall" else clip.num_frames) / fps


def _with_windows(dets: list[Detector], sel: np.ndarray, rows: Any, mode: str) -> list[Detector]:
    """Every detector with the windows ``sel`` recorded as one dismissed false alarm."""
    out = []
    for d in dets:
        log = FeedbackLog("replay")
        log.add(FALSE_ALARM, features_of(d, *rows(sel)), "replay", {"windows": len(sel)})
        out.append(with_feedback(d, log, mode))
    return out


if __name__ == "__main__":
    main()
