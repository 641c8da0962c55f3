"""Model features and prompt embeddings of a benchmark run, each computed once and reused.

A benchmark scores the same clips with many variants over several folds; encoding a clip
or a prompt is the expensive step, so it happens once per clip (or prompt list) and model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from skelprompt.clip import Clip
from skelprompt.model import SkeletonTextModel, extract_features, get_text_encoder
from skelprompt.model.text import TextEncoder

Features = tuple[np.ndarray, np.ndarray]  # (model features F, embeddings f) of some clips


class FeatureCache:
    """(features, embeddings) per clip object and model, computed in one batch per request."""

    def __init__(self, model: SkeletonTextModel) -> None:
        self.model = model
        self.store: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.keep: list[Clip] = []  # keep clips alive so ids stay unique
        self.seconds = 0.0
        self.count = 0

    def get(self, clips: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
        todo = list({id(c): c for c in clips if id(c) not in self.store}.values())
        if todo:
            t = time.perf_counter()
            f, e = extract_features(self.model, todo)
            self.seconds += time.perf_counter() - t
            self.count += len(todo)
            for c, fi, ei in zip(todo, f, e, strict=True):
                self.store[id(c)] = (fi, ei)
                self.keep.append(c)
        return (
            np.stack([self.store[id(c)][0] for c in clips]),
            np.stack([self.store[id(c)][1] for c in clips]),
        )


class TextEmbedder:
    """The model's text encoder as float64 prompt embeddings (None for no prompts)."""

    def __init__(self, model: SkeletonTextModel) -> None:
        self.enc: TextEncoder = get_text_encoder(model.cfg.text_encoder)

    def __call__(self, texts: list[str] | tuple[str, ...] | None) -> np.ndarray | None:
        if not texts:
            return None
        return self.enc.encode(list(texts)).astype(np.float64)


@dataclass(frozen=True)
class BenchPrompts:
    """The prompts of one run and their embeddings.

    ``anomaly`` / ``normal``: what the method variants use; ``study_normal``: the templated
    names of the benchmark's normal classes, used by the "+ normal prompts" variants and studies;
    ``wrong``: a deliberately wrong anomaly prompt (the "wrong prompt" variants).
    """

    anomaly: list[str]
    normal: list[str]
    study_normal: list[str]
    ya: np.ndarray | None
    yn: np.ndarray | None
    yn_study: np.ndarray | None
    wrong: list[str] = field(default_factory=list)

    @classmethod
    def embed(
        cls,
        text: TextEmbedder,
        anomaly: list[str],
        normal: list[str],
        study_normal: list[str],
        wrong: list[str] | None = None,
    ) -> BenchPrompts:
        return cls(
            anomaly, normal, study_normal, text(anomaly), text(normal), text(study_normal), list(wrong or [])
        )

    @property
    def anomaly_or_none(self) -> list[str] | None:
        return self.anomaly or None

    @property
    def normal_or_none(self) -> list[str] | None:
        return self.normal or None
