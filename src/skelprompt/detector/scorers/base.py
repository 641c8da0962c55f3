"""The OoD scorer interface and its registry.

A scorer measures how far feature rows are from the normal set (higher = more anomalous), as
PyOD's detectors do: ``fit`` on normal rows, ``decision_function`` on new ones. The detector
asks two more things of it: ``cross_fitted`` (each normal clip's distance to the normal set
without its own variants, so the calibration and threshold are not flattered by in-sample
fits) and ``to_tensors``/``from_tensors`` (its state in a detector file).

A new scorer is one module in this folder: subclass :class:`OoDScorer` and decorate it with
``@register_scorer("name")``; the package imports every module here, and
``DetectorConfig(ood="name")`` then finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from skelprompt.errors import ModelError

SCORERS: dict[str, type[OoDScorer]] = {}
_S = TypeVar("_S", bound="type[OoDScorer]")


def register_scorer(name: str) -> Callable[[_S], _S]:
    """Class decorator: make the scorer available as ``DetectorConfig(ood=name)``."""

    def register(cls: _S) -> _S:
        old = SCORERS.get(name)
        # the same class imported again (a reloaded module) may replace itself, nothing else
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(
                f"OoD scorer {name!r} is already registered by {old.__module__}.{old.__qualname__}"
            )
        cls.name = name
        SCORERS[name] = cls
        return cls

    return register


def scorer_names() -> tuple[str, ...]:
    return tuple(SCORERS)


def make_scorer(name: str, **params: Any) -> OoDScorer:
    """A new, unfitted scorer of the registered kind ``name``."""
    if name not in SCORERS:
        raise ValueError(f"unknown OoD method {name!r}; choose from {scorer_names()}")
    return SCORERS[name](**params)


def require_tensor(tensors: Mapping[str, np.ndarray], name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``tensors[name]`` as float64, or a ModelError when it is missing or not of ``shape``
    (``None`` = any length on that axis)."""
    if name not in tensors:
        raise ModelError(f"tensor {name!r} is missing")
    arr = np.asarray(tensors[name])
    if arr.ndim != len(shape) or any(w is not None and s != w for s, w in zip(arr.shape, shape, strict=True)):
        want = tuple("any" if w is None else w for w in shape)
        raise ModelError(f"tensor {name!r} has shape {tuple(arr.shape)}, expected {want}")
    return arr.astype(np.float64)


class OoDScorer(ABC):
    """Distance of feature rows to a set of normal rows; higher = more anomalous.

    ``normal`` holds the rows of the normal set, ``groups[i]`` the index of the original clip
    that row ``i`` came from (rows of one group are variants of one clip, such as mirrors).
    """

    name: ClassVar[str] = ""
    # DetectorConfig fields the detector passes to the constructor as keyword parameters
    config_fields: ClassVar[tuple[str, ...]] = ()
    # whether a subset of the normal rows (a coreset, ``DetectorConfig.bank_size``) can stand
    # for the whole set: true for distance-to-neighbours scorers, not for fitted covariances
    reduces_bank: ClassVar[bool] = False

    def __init__(self) -> None:
        self.normal = np.zeros((0, 0))
        self.groups = np.zeros(0, np.int64)

    def fit(self, normal: np.ndarray, groups: np.ndarray | None = None) -> Self:
        self.normal = np.asarray(normal, np.float64)
        if self.normal.ndim != 2 or len(self.normal) == 0:
            raise ValueError(
                f"the normal set must be a non-empty [N, D] array, got shape {self.normal.shape}"
            )
        self.groups = np.arange(len(self.normal)) if groups is None else np.asarray(groups, np.int64)
        if self.groups.shape != (len(self.normal),):
            raise ValueError(f"groups must have one entry per normal row, got shape {self.groups.shape}")
        self._fit_statistics()
        return self

    @abstractmethod
    def _fit_statistics(self) -> None:
        """Compute what the scorer keeps beyond the normal rows (``fit`` has stored them)."""

    @abstractmethod
    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """[N] distances of the rows of ``x`` to the normal set."""

    @abstractmethod
    def cross_fitted(self, x_original: np.ndarray) -> np.ndarray:
        """[N] distance of each original normal clip (row ``i`` = group ``i``) to the normal
        set without its own group."""

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The fitted state, stored as ``ood.<source>.<name>`` float64 tensors."""
        return {"normal": self.normal, "groups": self.groups.astype(np.float64)}

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Self:
        """A fitted scorer from :meth:`to_tensors`' output; ModelError for bad shapes."""
        normal = require_tensor(tensors, "normal", (None, None))
        groups = require_tensor(tensors, "groups", (len(normal),))
        if len(normal) == 0 or not np.array_equal(groups, np.round(groups)) or groups.min() < 0:
            raise ModelError("tensor 'groups' must hold non-negative clip indices, one per normal row")
        scorer = cls(**params)
        scorer.normal, scorer.groups = normal, groups.astype(np.int64)
        return scorer
