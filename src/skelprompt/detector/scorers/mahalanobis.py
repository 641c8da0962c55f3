"""Mahalanobis OoD scorer with a Ledoit-Wolf covariance (the paper's Eq. 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from sklearn.covariance import LedoitWolf

from skelprompt.detector.scorers.base import OoDScorer, register_scorer, require_tensor
from skelprompt.scoring import mahalanobis

CROSS_FIT_FOLDS = 5


@register_scorer("mahalanobis")
class MahalanobisScorer(OoDScorer):
    def __init__(self) -> None:
        super().__init__()
        self.mean = np.zeros(0)
        self.precision = np.zeros((0, 0))

    def _fit_statistics(self) -> None:
        lw = LedoitWolf().fit(self.normal)
        self.mean, self.precision = lw.location_, lw.get_precision()

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return mahalanobis(np.asarray(x, np.float64), self.mean, self.precision)

    def cross_fitted(self, x_original: np.ndarray) -> np.ndarray:
        """5 folds of clips: a clip is scored by the covariance fitted without its fold (a
        leave-one-out covariance per clip would cost one fit per clip)."""
        x = x_original
        n = len(x)
        folds = np.arange(n) % min(CROSS_FIT_FOLDS, n)
        out = np.zeros(n)
        for f in np.unique(folds):
            lw = LedoitWolf().fit(self.normal[folds[self.groups] != f])
            out[folds == f] = mahalanobis(x[folds == f], lw.location_, lw.get_precision())
        return out

    def to_tensors(self) -> dict[str, np.ndarray]:
        return {**super().to_tensors(), "mean": self.mean, "precision": self.precision}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        scorer = super().from_tensors(tensors, params)
        d = scorer.normal.shape[1]
        scorer.mean = require_tensor(tensors, "mean", (d,))
        scorer.precision = require_tensor(tensors, "precision", (d, d))
        return scorer
