"""Frame-level anomaly evaluation of videos, as the pose-based detectors report it.

Each scored person window gives its score to the frames of the window in which that person
is visible; a frame's score is the maximum over the persons and windows covering it (the
peers take the least normal person). Frames without any scored person get the lowest score
of the whole test set (STG-NF's code replaces their +inf normality by the highest normality,
i.e. the lowest anomaly). Scores are smoothed over time per video with a Gaussian filter and
the ROC-AUC is taken over the concatenated test frames ("micro", what the peers report) and,
beside it, as the mean over the videos that hold both classes ("macro").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from skelprompt.evaluation.hr_defaults import DEFAULT_SIGMA
from skelprompt.evaluation.metrics import roc_auc


@dataclass
class FrameTargets:
    """Where each scored item (a person window) puts its score: video index and frame indices."""

    video: np.ndarray  # [N] int: the video of each item
    frames: list[np.ndarray]  # N arrays of frame indices in that video


def frame_scores(num_frames: list[int], targets: FrameTargets, scores: np.ndarray) -> list[np.ndarray]:
    """Per video ``[T]``: the maximum of the scores of the items covering each frame; NaN where
    no item covers a frame."""
    scores = np.asarray(scores, np.float64)
    if len(scores) != len(targets.frames):
        raise ValueError(f"{len(scores)} scores for {len(targets.frames)} scored items")
    out = [np.full(n, -np.inf) for n in num_frames]
    for v, f, s in zip(targets.video.tolist(), targets.frames, scores.tolist(), strict=True):
        seg = out[v]
        np.maximum.at(seg, f, s)
    return [np.where(np.isneginf(x), np.nan, x) for x in out]


def fill_unscored(per_video: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """NaN frames set to the lowest score over all videos; returns them and how many there were."""
    finite = [x[np.isfinite(x)] for x in per_video]
    low = min((float(f.min()) for f in finite if f.size), default=0.0)
    missing = sum(int((~np.isfinite(x)).sum()) for x in per_video)
    return [np.where(np.isfinite(x), x, low) for x in per_video], missing


def smooth(per_video: list[np.ndarray], sigma: float = DEFAULT_SIGMA) -> list[np.ndarray]:
    """Each video's frame scores filtered by a Gaussian of ``sigma`` frames (0: unchanged)."""
    if sigma <= 0:
        return [np.asarray(x, np.float64) for x in per_video]
    return [gaussian_filter1d(np.asarray(x, np.float64), sigma) for x in per_video]


def frame_aucs(labels: list[np.ndarray], scores: list[np.ndarray]) -> dict[str, float | int]:
    """Micro AUC over the concatenated frames and macro AUC over videos with both classes."""
    micro = roc_auc(np.concatenate(labels), np.concatenate(scores))
    per = [roc_auc(y, s) for y, s in zip(labels, scores, strict=True) if 0 < y.sum() < len(y)]
    return {
        "micro_auc": micro,
        "macro_auc": float(np.mean(per)) if per else float("nan"),
        "macro_videos": len(per),
    }


def evaluate_frames(
    num_frames: list[int],
    labels: list[np.ndarray],
    targets: FrameTargets,
    scores: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
) -> dict[str, float | int]:
    """Item scores -> frame scores -> fill, smooth -> micro and macro frame AUC (and both
    unsmoothed), with the count of frames no person covered."""
    raw, missing = fill_unscored(frame_scores(num_frames, targets, scores))
    out: dict[str, float | int] = dict(frame_aucs(labels, smooth(raw, sigma)))
    unsmoothed = frame_aucs(labels, raw)
    out["micro_auc_unsmoothed"] = unsmoothed["micro_auc"]
    out["macro_auc_unsmoothed"] = unsmoothed["macro_auc"]
    out["frames_without_score"] = missing
    return out
