"""ROC-AUC (Mann-Whitney with ties), fold summaries, per-class AUC, false alarms at 90% recall."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    n = len(x)
    while i < n:
        j = i
        while j + 1 < n and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def roc_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve, positives = label 1 ranked high; NaN when one class is absent.

    Equals P(score of a random positive > that of a random negative) + 0.5 P(tie).
    """
    y = np.asarray(labels).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    n_pos = int((y == 1).sum())
    n_neg = int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    s = np.where(np.isfinite(s), s, np.where(s > 0, np.finfo(float).max, -np.finfo(float).max))
    r = _ranks(s)
    return float((r[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def mean_std(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and (population) std over folds, ignoring NaN; None where nothing is finite."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None}
    return {"mean": float(v.mean()), "std": float(v.std())}


def per_class_auc(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """AUC of each anomaly class against all normal clips."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    names = np.asarray(classes)
    normal = labels == 0
    out = {}
    for c in sorted(set(names[labels == 1].tolist())):
        sel = normal | (names == c)
        out[c] = roc_auc((names[sel] == c).astype(int), scores[sel])
    return out


def false_alarm_at_recall(labels: np.ndarray, scores: np.ndarray, recall: float = 0.9) -> float:
    """Fraction of normal clips flagged when the threshold catches ``recall`` of the anomalies.

    The threshold is the largest score t with at least ``recall`` of the anomalies >= t.
    """
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    pos = np.sort(s[y == 1])[::-1]
    neg = s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    k = max(1, math.ceil(recall * len(pos) - 1e-9))
    t = pos[k - 1]
    return float((neg >= t).mean())


def evaluate(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str] | None = None) -> dict[str, Any]:
    """AUC, false-alarm rate at 90% recall and (with classes) per-class AUC for one fold."""
    out: dict[str, Any] = {
        "auc": roc_auc(labels, scores),
        "far@90": false_alarm_at_recall(labels, scores, 0.9),
    }
    if classes is not None:
        out["per_class"] = per_class_auc(labels, scores, classes)
    return out
