"""The detector's options (with their defaults, written only here) and its per-clip scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from skelprompt.detector.scorers import SCORERS, OoDScorer, make_scorer, scorer_names
from skelprompt.scoring import COMBINES, PROMPT_GUARDS

OOD_SOURCES = ("model", "random", "pose")
# "cosine": max cosine to the anomaly prompts minus the normal prompts' (the paper's Eq. 4);
# "softmax": log-odds of the anomaly prompts against normal anchors and normal prompts
PROMPT_EVIDENCES = ("cosine", "softmax")
MIN_BANK_SIZE = 16  # a smaller coreset leaves too few neighbours once a clip's own rows are skipped
# options that only change how fitted statistics are turned into scores
SCORE_TIME_FIELDS = (
    "combine",
    "prompt_evidence",
    "prompt_ensemble",
    "prompt_guard",
    "prompt_weight",
    "normal_weight",
    "calibration_percentile",
    "false_alarm_rate",
)


@dataclass
class DetectorConfig:
    ood: str = "knn"  # a registered OoD scorer: "knn" | "mahalanobis" (the paper's) | ...
    k: int = 5
    # what the OoD distance is measured on, "+"-joined: "model" (F of the model, the paper's),
    # "random" (F of a fixed randomly initialised encoder), "pose" (the raw-pose descriptor);
    # several sources add their standardised distances
    ood_features: str = "pose+model"  # the default measured best over the benchmarks (README)
    pose_persons: int = 2  # persons kept in the raw-pose descriptor
    pose_order_by_x: bool = True  # sort persons left to right per frame: immune to track-id switches
    # add the left/right mirror (and, for the pose descriptor, the person-swapped) versions of
    # every normal clip to the normal set: normal footage can show any actor on either side
    symmetric: bool = True
    normalize_features: bool = True  # L2-normalise encoder features before distances
    # most rows kept in the k-NN memory bank per OoD source (every variant of a clip is a
    # row); a larger normal set is reduced to a greedy k-center coreset of this size, as
    # PatchCore does. 0 keeps every row (exact). The default keeps small sets exact and holds
    # memory and time within the README's measured figures for long footage.
    bank_size: int = 20_000
    combine: str = "sum"  # "sum" | "paper" | "ood" | "prompt"
    prompt_evidence: str = "softmax"  # PROMPT_EVIDENCES; measured best (README, prompt evidence)
    prompt_ensemble: bool = True  # embed each prompt as the mean of its templated phrasings
    prompt_guard: str = "floor"  # PROMPT_GUARDS: what of the standardised prompt term "sum" adds
    prompt_weight: float = 0.25  # weight of the standardised prompt score in "sum"
    normal_weight: float = 0.5  # weight of the normal prompts when both kinds are given
    calibration_percentile: float = 99.0
    false_alarm_rate: float = 0.01

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.ood_features.split("+"))

    def __post_init__(self) -> None:
        self._check_types()
        if self.ood not in SCORERS:
            raise ValueError(f"unknown OoD method {self.ood!r}; choose from {scorer_names()}")
        bad = [x for x in self.sources if x not in OOD_SOURCES] or len(set(self.sources)) != len(self.sources)
        if bad:
            raise ValueError(
                f"bad ood_features {self.ood_features!r}: '+'-join distinct names of {OOD_SOURCES}"
            )
        if self.combine not in COMBINES:
            raise ValueError(f"unknown combine method {self.combine!r}; choose from {COMBINES}")
        if self.prompt_evidence not in PROMPT_EVIDENCES:
            raise ValueError(
                f"unknown prompt evidence {self.prompt_evidence!r}; choose from {PROMPT_EVIDENCES}"
            )
        if self.prompt_guard not in PROMPT_GUARDS:
            raise ValueError(f"unknown prompt guard {self.prompt_guard!r}; choose from {PROMPT_GUARDS}")
        if self.k < 1 or self.pose_persons < 1:
            raise ValueError(f"k and pose_persons must be at least 1, got {self.k} and {self.pose_persons}")
        if self.bank_size != 0 and self.bank_size < MIN_BANK_SIZE:
            raise ValueError(
                f"bank_size must be 0 (keep every normal row) or at least {MIN_BANK_SIZE}, got {self.bank_size}"
            )
        if not 0.0 <= self.calibration_percentile <= 100.0:
            raise ValueError(f"calibration_percentile must be in [0, 100], got {self.calibration_percentile}")
        if not 0.0 <= self.false_alarm_rate < 1.0:
            raise ValueError(f"false_alarm_rate must be in [0, 1), got {self.false_alarm_rate}")

    def _check_types(self) -> None:
        """Each field has its default's type; configs also come from JSON in detector files."""
        for f in fields(self):
            value, want = getattr(self, f.name), type(f.default)
            if not has_type(value, want):
                raise ValueError(f"detector option {f.name} must be of type {want.__name__}, got {value!r}")

    def with_score_options(self, **changes: Any) -> DetectorConfig:
        """A copy with score-time options changed; ValueError for the others."""
        fit_time = sorted(set(changes) - set(SCORE_TIME_FIELDS))
        if fit_time:
            raise ValueError(
                f"{', '.join(fit_time)}: only score-time options ({', '.join(SCORE_TIME_FIELDS)}) "
                "can change after fitting; fit a new detector for the others"
            )
        return replace(self, **changes)

    def scorer_params(self) -> dict[str, Any]:
        """The keyword parameters of this config's OoD scorer (the fields it declares)."""
        return {name: getattr(self, name) for name in SCORERS[self.ood].config_fields}

    def new_scorer(self) -> OoDScorer:
        return make_scorer(self.ood, **self.scorer_params())


# what a detector file written before these options existed meant: it scores as it did then
LEGACY_PROMPT_OPTIONS: dict[str, Any] = {
    "prompt_evidence": "cosine",
    "prompt_ensemble": False,
    "prompt_guard": "none",
}


def normal_clips_needed(false_alarm_rate: float) -> int:
    """How many normal clips a threshold at ``false_alarm_rate`` needs: about 1 / rate, so
    that the fraction of normal clips above it can be that small (0 for rate 0: the
    threshold is then the highest normal score by definition)."""
    return math.ceil(1.0 / false_alarm_rate - 1e-9) if false_alarm_rate > 0 else 0


def too_few_normal_clips(num_normal: int, false_alarm_rate: float, what: str = "clips") -> str | None:
    """A warning when ``num_normal`` normal clips are too few to set a threshold at
    ``false_alarm_rate``, else None. With too few, the threshold is the highest normal score
    and the real false-alarm rate is higher than asked."""
    needed = normal_clips_needed(false_alarm_rate)
    if num_normal >= needed:
        return None
    return (
        f"the threshold is set from only {num_normal} normal {what}, but a false-alarm rate of "
        f"1 in {1 / false_alarm_rate:.4g} needs at least {needed}: it is the highest normal score, "
        "so expect more false alarms than asked"
    )


def has_type(value: object, want: type) -> bool:
    """``isinstance`` as JSON values need it: bools are not numbers, ints may stand for floats,
    floats must be finite."""
    if want is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if want is int:
        return isinstance(value, Integral)
    if want is float:
        return isinstance(value, Real) and math.isfinite(value)
    return isinstance(value, want)


@dataclass
class Scores:
    """Per-clip scores. ``ood`` and ``prompt`` are raw; ``p_ood``/``p_prompt`` calibrated."""

    ood: np.ndarray
    prompt: np.ndarray
    p_ood: np.ndarray
    p_prompt: np.ndarray
    anomaly: np.ndarray
    threshold: float
    prompts: list[str] = field(default_factory=list)
    normal_prompts: list[str] = field(default_factory=list)
    # the standardised few-shot exemplar evidence, added (times its weight) into ``anomaly``;
    # None without anomaly examples
    exemplar: np.ndarray | None = None

    @property
    def is_anomaly(self) -> np.ndarray:
        return self.anomaly > self.threshold
