"""k-NN OoD scorer: the mean Euclidean distance to the k nearest normal rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from skelprompt.detector.scorers.base import OoDScorer, register_scorer, require_tensor
from skelprompt.scoring import knn_distance


@register_scorer("knn")
class KnnScorer(OoDScorer):
    config_fields = ("k",)
    reduces_bank = True

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.mean = np.zeros(0)

    def _fit_statistics(self) -> None:
        # k-NN needs no covariance (skipping it keeps large descriptors cheap); the mean is
        # kept because every detector file (version 1) stores one per source
        self.mean = self.normal.mean(0)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return knn_distance(np.asarray(x, np.float64), self.normal, self.k)

    def cross_fitted(self, x_original: np.ndarray) -> np.ndarray:
        """Leave-one-out: each clip's own rows (itself and its variants) are skipped; in blocks
        of clips, so memory stays linear in the normal set."""
        x = np.asarray(x_original, np.float64)
        return knn_distance(x, self.normal, self.k, x_groups=np.arange(len(x)), reference_groups=self.groups)

    def to_tensors(self) -> dict[str, np.ndarray]:
        # an empty precision: the file layout of version 1 has one for every scorer
        return {**super().to_tensors(), "mean": self.mean, "precision": np.zeros((0, 0))}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        scorer = super().from_tensors(tensors, params)
        scorer.mean = require_tensor(tensors, "mean", (scorer.normal.shape[1],))
        require_tensor(tensors, "precision", (0, 0))
        return scorer
