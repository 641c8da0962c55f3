"""The detector's options (with their defaults, written only here) and its per-clip scores."""

from __future__ import annotations

import math
from dataclasses import Field, dataclass, field, fields, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from skelprompt.detector.scorers import SCORERS, OoDScorer, make_scorer, scorer_names
from skelprompt.scoring import COMBINES, PROMPT_GUARDS

OOD_SOURCES = ("model", "random", "pose", "place")
# "cosine": max cosine to the anomaly prompts minus the normal prompts' (the paper's Eq. 4);
# "softmax": log-odds of the anomaly prompts against normal anchors and normal prompts
PROMPT_EVIDENCES = ("cosine", "softmax")
# whose evidence a clip of several people has for prompts about one person: "each": its most
# matching person's (each person embedded alone); "group": the whole clip's (the paper's)
PROMPT_PERSONS = ("each", "group")
MIN_BANK_SIZE = 16  # a smaller coreset leaves too few neighbours once a clip's own rows are skipped


def option(default: Any, help: str, **checks: Any) -> Any:
    """A DetectorConfig field: its default, the help of its command-line option and its checks
    (``min``/``max`` inclusive bounds, ``below`` an exclusive upper bound, ``choices`` a tuple
    of names or a function giving them, ``score_time`` True when it may change after fitting).
    `skelprompt fit` makes one option of each field from these (commands/detector_options.py)."""
    return field(default=default, metadata={"help": help, **checks})


@dataclass
class DetectorConfig:
    # a registered OoD scorer; the paper's is mahalanobis
    ood: str = option("knn", "OoD score: {choices}.", choices=scorer_names, what="OoD method")
    k: int = option(5, "Neighbours for the k-NN OoD score.", min=1)
    # several sources add their standardised distances; the default measured best (README)
    ood_features: str = option(
        "pose+model",
        "What the OoD distance is measured on, '+'-joined: pose (raw poses), model (pretrained "
        "encoder), random (random encoder), place (where in a fixed camera's image the person "
        "is; image clips only).",
    )
    pose_persons: int = option(2, "Persons kept in the raw-pose descriptor.", min=1)
    # immune to track-id switches
    pose_order_by_x: bool = option(True, "Sort persons left to right per frame in the raw-pose descriptor.")
    # normal footage can show any actor on either side
    symmetric: bool = option(
        True, "Add mirrored (and person-swapped) copies of the normal clips to the normal set."
    )
    normalize_features: bool = option(True, "L2-normalise encoder features before distances.")
    # a larger normal set is reduced to a greedy k-center coreset, as PatchCore does; the
    # default keeps small sets exact and holds memory and time within the README's measured
    # figures for long footage
    bank_size: int = option(
        20_000,
        "Most normal rows kept in the k-NN memory bank per OoD source (a clip and its mirrored "
        f"copies are rows); more are reduced to a k-center coreset. 0: keep all (exact), else at "
        f"least {MIN_BANK_SIZE}.",
    )
    combine: str = option(
        "sum",
        "How OoD and prompt combine: {choices}.",
        choices=COMBINES,
        what="combine method",
        score_time=True,
    )
    prompt_evidence: str = option(  # measured best: softmax (README, prompt evidence)
        "softmax",
        "Prompt evidence: {choices} (softmax against normal anchors; cosine: the paper's).",
        choices=PROMPT_EVIDENCES,
        what="prompt evidence",
        score_time=True,
    )
    prompt_ensemble: bool = option(
        True, "Embed each prompt as the mean of its templated phrasings.", score_time=True
    )
    prompt_guard: str = option(
        "floor",
        "What of the prompt term adds to the OoD score: {choices}.",
        choices=PROMPT_GUARDS,
        what="prompt guard",
        score_time=True,
    )
    # a one-person prompt ("a person jumping") asks about one person: embedded as a group, a
    # clip of several people meets the two-person anchors instead and scores below every
    # one-person clip (README, quick start); prompts about two people keep the group's evidence
    prompt_persons: str = option(
        "each",
        "Clips of several people, one-person prompts: each person's evidence (the best) or the "
        "group's (the paper's).",
        choices=PROMPT_PERSONS,
        what="prompt persons",
        score_time=True,
    )
    prompt_weight: float = option(0.25, "Weight of the prompt score against the OoD score.", score_time=True)
    normal_weight: float = option(
        0.5, "Weight of normal prompts when anomaly prompts are given too.", score_time=True
    )
    calibration_percentile: float = option(
        99.0,
        "Percentile of the normal scores that calibrated scores are measured against.",
        min=0.0,
        max=100.0,
        score_time=True,
    )
    false_alarm_rate: float = option(
        0.01, "Fraction of normal clips allowed above the threshold.", min=0.0, below=1.0, score_time=True
    )

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.ood_features.split("+"))

    def __post_init__(self) -> None:
        self._check_types()
        bad = [x for x in self.sources if x not in OOD_SOURCES] or len(set(self.sources)) != len(self.sources)
        if bad:
            raise ValueError(
                f"bad ood_features {self.ood_features!r}: '+'-join distinct names of {OOD_SOURCES}"
            )
        if self.bank_size != 0 and self.bank_size < MIN_BANK_SIZE:
            raise ValueError(
                f"bank_size must be 0 (keep every normal row) or at least {MIN_BANK_SIZE}, got {self.bank_size}"
            )
        for f in fields(self):
            problem = field_problem(f, getattr(self, f.name))
            if problem:
                raise ValueError(problem)

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
    "prompt_persons": "group",
}


SCORE_TIME_FIELDS = tuple(f.name for f in fields(DetectorConfig) if f.metadata.get("score_time"))


def choices_of(f: Field[Any]) -> tuple[str, ...] | None:
    """The names a field accepts, when it declares them (a registry's are read when asked)."""
    choices = f.metadata.get("choices")
    return tuple(choices() if callable(choices) else choices) if choices is not None else None


def range_text(f: Field[Any]) -> str | None:
    """The values a numeric field accepts, in words ("at least 1", "in [0, 1)"), or None."""
    lo, hi, below = (f.metadata.get(k) for k in ("min", "max", "below"))
    if lo is not None and (hi is not None or below is not None):
        return f"in [{lo:g}, {hi:g}]" if hi is not None else f"in [{lo:g}, {below:g})"
    if lo is not None:
        return f"at least {lo:g}"
    if hi is not None:
        return f"at most {hi:g}"
    return f"below {below:g}" if below is not None else None


def field_problem(f: Field[Any], value: Any) -> str | None:
    """What is wrong with ``value`` for the field ``f`` by its declared choices and range, or None."""
    choices = choices_of(f)
    if choices is not None and value not in choices:
        return f"unknown {f.metadata.get('what', f.name)} {value!r}; choose from {choices}"
    lo, hi, below = (f.metadata.get(k) for k in ("min", "max", "below"))
    if (
        (lo is not None and value < lo)
        or (hi is not None and value > hi)
        or (below is not None and value >= below)
    ):
        return f"{f.name} must be {range_text(f)}, got {value}"
    return None


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
