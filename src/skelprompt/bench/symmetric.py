"""Symmetry-aware OoD on raw-pose descriptors: an option found while benchmarking.

Normal footage shows each interaction in one of several equivalent forms: the actor on the
left or on the right (person order and image side are arbitrary), left- or right-handed. A
k-NN distance to the normal descriptors counts these as different, so a normal clip whose
mirror image (or whose person-swapped version) is in the normal set can still look far. This
module augments the normal set with the person-swapped and left/right-mirrored versions of
every normal descriptor (x -> -x about the clip centre and left/right joints exchanged), then
scores with the usual mean distance to the k nearest. Measured (5 folds, k = 5, untrained,
no prompts): SBU 0.879 -> 0.905, K3HI 0.863 -> 0.934; one-person sets unchanged within noise
(URFD 0.960 -> 0.960, JHMDB 0.818 -> 0.819, MSR 0.540 -> 0.544).
"""

from __future__ import annotations

import numpy as np

from skelprompt.bench.baselines import DESCRIPTOR_FRAMES
from skelprompt.clip import Clip
from skelprompt.pose_descriptor import descriptor_variants as _variants
from skelprompt.scoring import knn_distance


def descriptor_variants(desc: np.ndarray, persons: int, frames: int = DESCRIPTOR_FRAMES) -> np.ndarray:
    """[V * N, D]: see :func:`skelprompt.pose_descriptor.descriptor_variants`."""
    v = _variants(desc, persons, frames)
    return v.reshape(-1, v.shape[-1])


class SymmetricKNN:
    """Mean distance to the k nearest of the swap/mirror-augmented normal descriptors."""

    def __init__(self, persons: int, k: int = 5, frames: int = DESCRIPTOR_FRAMES) -> None:
        self.persons, self.k, self.frames = persons, k, frames

    def fit(self, desc: np.ndarray) -> SymmetricKNN:
        self.n = len(desc)
        self.ref = descriptor_variants(np.asarray(desc, np.float64), self.persons, self.frames)
        return self

    def score(self, desc: np.ndarray) -> np.ndarray:
        return knn_distance(np.asarray(desc, np.float64), self.ref, self.k)

    def normal_scores(self) -> np.ndarray:
        """Leave-one-out scores of the normal clips (each clip's own variants excluded)."""
        v = self.ref.reshape(-1, self.n, self.ref.shape[1])  # [variants, N, D]
        x = v[0]
        d2 = (x * x).sum(1)[:, None] + (self.ref * self.ref).sum(1)[None] - 2 * x @ self.ref.T
        d = np.sqrt(np.maximum(d2, 0)).reshape(self.n, len(v), self.n)
        d[np.arange(self.n), :, np.arange(self.n)] = np.inf
        d = d.reshape(self.n, -1)
        kk = min(self.k, d.shape[1] - len(v))
        return np.partition(d, kk - 1, axis=1)[:, :kk].mean(1)


def mirror_clip(clip: Clip) -> Clip:
    """The clip mirrored left/right (see :meth:`Clip.mirrored`)."""
    return clip.mirrored()
