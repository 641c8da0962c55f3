"""The detector: fit on normal clips (no gradient step), score clips with or without prompts.

PyOD-like: ``fit(clips)``, ``decision_function(clips, ...)`` (higher = more anomalous),
``predict(clips, ...)`` (1 = anomaly, using a threshold at the false-alarm rate chosen on the
normal clips). The OoD distance comes from a registered scorer (``scorers/``) per feature
source (``sources.py``); normal clips' own distances are cross-fitted by the scorer so the
calibration and threshold are not flattered by in-sample fits. Files: ``persistence.py``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector import bank, persistence, sources
from skelprompt.detector.config import DetectorConfig, Scores
from skelprompt.detector.exemplars import AnomalyExemplars
from skelprompt.detector.scorers import OoDScorer
from skelprompt.errors import ClipError, ModelError
from skelprompt.model.network import SkeletonTextModel
from skelprompt.model.text import TextEncoder, get_text_encoder
from skelprompt.prompts import NORMAL_ANCHORS, core_words, ensemble_embeddings
from skelprompt.scoring import (
    best_person,
    combine_scores,
    prompt_score,
    softmax_evidence,
    standardised,
    threshold_at_false_alarm_rate,
)

# one prompt (a string) or several; a string is one prompt, not a sequence of letters
Prompts = str | Sequence[str] | None


def prompt_list(prompts: Prompts) -> list[str]:
    """``prompts`` as a list of prompts: a single string is one prompt."""
    if prompts is None:
        return []
    items = [prompts] if isinstance(prompts, str) else list(prompts)
    bad = next((p for p in items if not isinstance(p, str)), None)
    if bad is not None:
        raise TypeError(f"prompts must be strings, got {type(bad).__name__} {bad!r}")
    return items


def distinct_prompts(prompts: Prompts) -> list[str]:
    """The prompts, each once (spacing and case aside), in their order."""
    seen: dict[str, str] = {}
    for p in prompt_list(prompts):
        seen.setdefault(" ".join(p.lower().split()), p)
    return list(seen.values())


def persons_of(extra: dict[str, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The persons' embeddings and clip index in features' ``extra``, or None."""
    if extra is None or sources.PERSON_EMBEDDINGS not in extra:
        return None
    embs = np.asarray(extra[sources.PERSON_EMBEDDINGS], np.float64)
    return embs, np.asarray(extra[sources.PERSON_CLIP], np.int64)


class Detector:
    """Prompt-guided anomaly detector on top of a (frozen) skeleton-text model."""

    def __init__(
        self,
        model: SkeletonTextModel,
        config: DetectorConfig | None = None,
        text_encoder: TextEncoder | None = None,
    ) -> None:
        self.model = model
        self.config = config or DetectorConfig()
        self._text_encoder = text_encoder
        self.random_encoder: SkeletonTextModel | None = None
        if "random" in self.config.sources:
            self.random_encoder = sources.random_encoder(model.cfg)
        # per OoD source: the fitted scorer and the normal clips' cross-fitted distances
        self.scorers: dict[str, OoDScorer] = {}
        self.normal_dists: dict[str, np.ndarray] = {}
        self.normal_embeddings: np.ndarray | None = None
        # the persons of the normal clips of several people: (embeddings [P, D], clip [P]);
        # None for a file fitted before per-person prompt evidence
        self.normal_persons: tuple[np.ndarray, np.ndarray] | None = None
        self.normal_ood: np.ndarray | None = None
        self.exemplars: AnomalyExemplars | None = None  # few-shot anomaly examples (exemplars.py)
        self.info: dict[str, Any] = {}

    @property
    def is_fitted(self) -> bool:
        return self.normal_ood is not None

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """Per OoD source: its scorer's tensors and ``normal_dist``, as a file stores them."""
        return {s: {**sc.to_tensors(), "normal_dist": self.normal_dists[s]} for s, sc in self.scorers.items()}

    def features(self, clips: list[Clip], progress: bool = False, for_fit: bool = False) -> sources.Features:
        """``(F(x), f(x), other OoD sources)`` for clips; pass them to fit_/score_features.

        With ``for_fit`` and ``config.symmetric``, the encoder features of the mirrored clips
        come too (as ``"<source>_mirror"``)."""
        return sources.source_features(self.model, self.random_encoder, self.config, clips, progress, for_fit)

    # ------------------------------------------------------------------ fitting
    def fit(self, clips: list[Clip], progress: bool = False) -> Detector:
        """Store the statistics of the OoD features on normal clips. Needs at least 3 clips."""
        if len(clips) < 3:
            raise ModelError(f"fitting needs at least 3 normal clips, got {len(clips)}")
        feats, embs, extra = self.features(clips, progress=progress, for_fit=True)
        self.fit_features(feats, embs, extra)
        self.info.update({"num_normal_clips": len(clips)})
        return self

    def fit_features(
        self, feats: np.ndarray, embs: np.ndarray, extra: dict[str, np.ndarray] | None = None
    ) -> Detector:
        """Fit from precomputed features (``Detector.features(clips, for_fit=True)``)."""
        extra = extra or {}
        self.normal_embeddings = np.asarray(embs, np.float64)
        self.normal_persons = persons_of(extra)
        self.scorers, self.normal_dists, banks = {}, {}, {}
        for src, x in sources.source_arrays(self.config, feats, extra).items():
            scorer = self.config.new_scorer()
            rows, groups, total = bank.normal_bank(self.config, src, x, extra, scorer.reduces_bank)
            self.scorers[src] = scorer.fit(rows, groups)
            self.normal_dists[src] = scorer.cross_fitted(x)
            banks[src] = {"rows": len(rows), "of": total}
        self.normal_ood = self._combine_sources(self.normal_dists)
        self.exemplars = None  # they were measured against the previous normal set
        self.info["memory_bank"] = banks  # rows kept per source, of the normal set's rows
        return self

    def _combine_sources(self, dists: dict[str, np.ndarray]) -> np.ndarray:
        """One source: its raw distance. Several: the sum of their standardised distances."""
        if len(dists) == 1:
            return next(iter(dists.values()))
        pct = self.config.calibration_percentile
        return cast(np.ndarray, sum(standardised(d, self.normal_dists[s], pct) for s, d in dists.items()))

    def with_options(self, **changes: Any) -> Detector:
        """A copy sharing the fitted state, with score-time options changed."""
        new = copy.copy(self)
        new.config, new.info = self.config.with_score_options(**changes), dict(self.info)
        if self.is_fitted and new.config.calibration_percentile != self.config.calibration_percentile:
            new.normal_ood = new._combine_sources(self.normal_dists)  # as a fit with it would
        return new

    def checksum(self) -> str:
        """A SHA-256 of the configuration and fitted state, to name the detector results came
        from; the same after save and load."""
        return persistence.checksum(self._state())

    # ------------------------------------------------------------------ scoring
    def text_encoder(self) -> TextEncoder:
        if self._text_encoder is None:
            self._text_encoder = get_text_encoder(self.model.cfg.text_encoder)
        enc = self._text_encoder
        if enc.dim != self.model.cfg.text_dim:
            raise ModelError(
                f"text encoder {enc.name!r} gives {enc.dim}-d embeddings, the model projects to {self.model.cfg.text_dim}"
            )
        return enc

    def _embed(self, texts: list[str], ensemble: bool = False) -> np.ndarray | None:
        """Prompt embeddings (float64 rows); with ``ensemble`` each prompt is the mean of its
        templated phrasings (``skelprompt.prompts``)."""
        if not texts:
            return None
        if ensemble:
            return ensemble_embeddings(self.text_encoder().encode, texts)
        return self.text_encoder().encode(list(texts)).astype(np.float64)

    def prompt_evidence(
        self,
        embs: np.ndarray,
        prompts: Prompts = None,
        normal_prompts: Prompts = None,
        persons: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The raw prompt evidence of clips with embeddings ``embs`` (higher = more anomalous).

        ``cosine``: :func:`prompt_score` (Eq. 4, minus the normal prompts). ``softmax``: the
        log-odds of the anomaly prompts against the normal anchors and the normal prompts at
        the model's learnt temperature; with normal prompts only, the cosine form. With
        ``persons`` (embeddings and clip index of the persons of clips of several people) and
        ``prompt_persons`` "each", when every anomaly prompt is about one person, a clip's
        evidence is the highest of its own and its persons' (:func:`best_person`).
        """
        own = self._evidence(embs, prompts, normal_prompts)
        if persons is None or not self._per_person(prompts):
            return own
        return best_person(own, self._evidence(persons[0], prompts, normal_prompts), persons[1])

    def _per_person(self, prompts: Prompts) -> bool:
        """Whether persons are scored alone: option "each" and only one-person anomaly prompts."""
        items = prompt_list(prompts)
        return (
            self.config.prompt_persons == "each" and bool(items) and not any(core_words(p)[1] for p in items)
        )

    def _evidence(self, embs: np.ndarray, prompts: Prompts, normal_prompts: Prompts) -> np.ndarray:
        """The prompt evidence of each embedding as its own clip (see :meth:`prompt_evidence`)."""
        cfg = self.config
        # a prompt given twice is one intent: in a softmax it would otherwise count twice
        ya = self._embed(distinct_prompts(prompts), cfg.prompt_ensemble)
        yn = self._embed(distinct_prompts(normal_prompts), cfg.prompt_ensemble)
        embs = np.asarray(embs, np.float64)
        if cfg.prompt_evidence == "cosine" or ya is None:
            return prompt_score(embs, ya, yn, cfg.normal_weight)
        anchors = self._embed(list(NORMAL_ANCHORS), cfg.prompt_ensemble)
        competitors = anchors if yn is None else np.concatenate([anchors, yn])
        scale = float(self.model.logit_scale.detach().exp())
        return softmax_evidence(embs, ya, cast(np.ndarray, competitors), scale)

    def ood_distance(self, feats: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return self._combine_sources(self._source_distances(feats, extra)[1])

    def _source_distances(
        self, feats: np.ndarray, extra: dict[str, np.ndarray] | None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per OoD source: the prepared features and their OoD distances."""
        self._check_fitted()
        arrays = sources.source_arrays(self.config, feats, extra)
        return arrays, {s: self.scorers[s].decision_function(x) for s, x in arrays.items()}

    def score_features(
        self,
        feats: np.ndarray,
        embs: np.ndarray,
        prompts: Prompts = None,
        normal_prompts: Prompts = None,
        false_alarm_rate: float | None = None,
        extra: dict[str, np.ndarray] | None = None,
    ) -> Scores:
        """Scores from precomputed features (see :meth:`score`)."""
        normal_ood, normal_embeddings = self._check_fitted()
        if len(feats) == 0:
            raise ClipError("no clips to score")
        prompts, normal_prompts = prompt_list(prompts), prompt_list(normal_prompts)
        arrays, dists = self._source_distances(feats, extra)
        ood = self._combine_sources(dists)
        if self._per_person(prompts) and self.normal_persons is None:
            raise ModelError(
                "this detector was fitted before per-person prompt evidence: fit it again, or "
                "score with prompt_persons='group'"
            )
        ps = self.prompt_evidence(embs, prompts, normal_prompts, persons_of(extra))
        ps_normal = self.prompt_evidence(normal_embeddings, prompts, normal_prompts, self.normal_persons)
        combine = partial(
            combine_scores,
            method=self.config.combine,
            percentile=self.config.calibration_percentile,
            use_prompt=bool(prompts or normal_prompts),
            prompt_weight=self.config.prompt_weight,
            guard=self.config.prompt_guard,
            prompt_log_odds=self.config.prompt_evidence == "softmax",
        )
        p_o, p_t, anomaly = combine(ood, ps, normal_ood, ps_normal)
        _, _, normal_anomaly = combine(normal_ood, ps_normal, normal_ood, ps_normal)
        exemplar = None
        if self.exemplars is not None:  # few-shot: nearer the anomaly examples than the normals
            pct, w = self.config.calibration_percentile, self.exemplars.weight
            exemplar = self.exemplars.evidence(arrays, dists, pct)
            anomaly, normal_anomaly = (
                anomaly + w * exemplar,
                normal_anomaly + w * self.exemplars.normal_scores(pct),
            )
        rate = self.config.false_alarm_rate if false_alarm_rate is None else false_alarm_rate
        threshold = threshold_at_false_alarm_rate(normal_anomaly, rate)
        return Scores(ood, ps, p_o, p_t, anomaly, threshold, prompts, normal_prompts, exemplar)

    def score(
        self,
        clips: list[Clip],
        prompts: Prompts = None,
        normal_prompts: Prompts = None,
        false_alarm_rate: float | None = None,
        progress: bool = False,
    ) -> Scores:
        """OoD, prompt and anomaly scores for ``clips`` and the threshold for the prompts given
        (``prompts``: one string or a list; each names an anomaly, ``normal_prompts`` normal
        activity)."""
        self._check_fitted()
        if len(clips) == 0:
            raise ClipError("no clips to score")
        feats, embs, extra = self.features(clips, progress=progress)
        return self.score_features(feats, embs, prompts, normal_prompts, false_alarm_rate, extra)

    def decision_function(
        self, clips: list[Clip], prompts: Prompts = None, normal_prompts: Prompts = None
    ) -> np.ndarray:
        return self.score(clips, prompts, normal_prompts).anomaly

    def predict(
        self,
        clips: list[Clip],
        prompts: Prompts = None,
        normal_prompts: Prompts = None,
        false_alarm_rate: float | None = None,
    ) -> np.ndarray:
        return self.score(clips, prompts, normal_prompts, false_alarm_rate).is_anomaly.astype(int)

    def _check_fitted(self) -> tuple[np.ndarray, np.ndarray]:
        """``(normal_ood, normal_embeddings)``, or a ModelError before fitting."""
        if self.normal_ood is None or self.normal_embeddings is None:
            raise ModelError("the detector is not fitted: call fit() on normal clips first")
        return self.normal_ood, self.normal_embeddings

    # ------------------------------------------------------------------ files
    def _state(self) -> persistence.DetectorState:
        normal_ood, normal_embeddings = self._check_fitted()
        return persistence.DetectorState(
            self.model, self.config, self.random_encoder, normal_embeddings, normal_ood,
            self.scorers, self.normal_dists, self.info, self.normal_persons, self.exemplars,
        )  # fmt: skip

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the detector (model weights included) atomically to one safetensors file."""
        persistence.save_detector(self._state(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], expect_model: SkeletonTextModel | None = None) -> Detector:
        """Load a detector as fitted; with ``expect_model``, fail clearly if it was fitted with
        another model. (``feedback.load_with_feedback`` applies the operator's feedback too.)"""
        st = persistence.load_detector(path, expect_model)
        det = cls(st.model, st.config)
        det.random_encoder = st.random_encoder  # the stored weights
        det.normal_embeddings, det.normal_ood = st.normal_embeddings, st.normal_ood
        det.scorers, det.normal_dists, det.info = st.scorers, st.normal_dists, st.info
        det.normal_persons, det.exemplars = st.normal_persons, st.exemplars
        return det
