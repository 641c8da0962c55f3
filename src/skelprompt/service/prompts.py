"""What each camera looks for (prompts, alarms per hour), changed live, and the one detector
all cameras share, scoring one window at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from skelprompt.footage.video import false_alarm_rate_per_hour

if TYPE_CHECKING:
    from skelprompt.clip import Clip
    from skelprompt.detector import Detector, Scores
    from skelprompt.service.config import ServiceConfig

SECONDS_PER_HOUR = 3600.0
_T = TypeVar("_T")


@dataclass(frozen=True)
class Prompts:
    prompts: list[str]
    normal_prompts: list[str]
    alarms_per_hour: float

    def false_alarm_rate(self, stride_s: float) -> float:
        """The per-window false-alarm rate that gives ``alarms_per_hour`` on normal footage."""
        return false_alarm_rate_per_hour(self.alarms_per_hour, stride_s)


class PromptState:
    """A camera's prompts and threshold; replaced as a whole, read as a consistent snapshot."""

    def __init__(self, prompts: list[str], normal_prompts: list[str], alarms_per_hour: float) -> None:
        self._value = Prompts(list(prompts), list(normal_prompts), alarms_per_hour)
        self._lock = threading.Lock()

    def snapshot(self) -> Prompts:
        with self._lock:
            return self._value

    def set(self, prompts: list[str], normal_prompts: list[str], alarms_per_hour: float | None) -> Prompts:
        with self._lock:
            rate = self._value.alarms_per_hour if alarms_per_hour is None else alarms_per_hour
            self._value = Prompts(list(prompts), list(normal_prompts), rate)
            return self._value


class _Recorder:
    """A :class:`~skelprompt.footage.scoring.ClipScorer` that keeps the clips' embeddings, to
    name the prompt that matched best (the detector's scores give only the best similarity)."""

    def __init__(self, det: Detector) -> None:
        self.det = det
        self.embeddings: np.ndarray | None = None

    def score(
        self,
        clips: list[Clip],
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
        progress: bool = False,
    ) -> Scores:
        feats, embs, extra = self.det.features(clips)
        self.embeddings = np.asarray(embs, np.float64)
        return self.det.score_features(feats, embs, prompts, normal_prompts, false_alarm_rate, extra)


class SharedScorer:
    """The detector, shared by every camera; one window is scored at a time (the model and the
    text encoder are not made for concurrent calls, and pose estimation dominates anyway)."""

    def __init__(self, det: Detector) -> None:
        self.det = det
        self._lock = threading.Lock()

    def alarms_per_hour(self, config: ServiceConfig) -> float:
        """The service's setting, else the one the detector was fitted with, else its rate's."""
        if config.alarms_per_hour is not None:
            return config.alarms_per_hour
        info = self.det.info or {}
        if info.get("false_alarms_per_hour") is not None:
            return float(info["false_alarms_per_hour"])
        stride = float(info.get("window_stride_s", 0.5))
        return self.det.config.false_alarm_rate * SECONDS_PER_HOUR / stride

    def replace(self, det: Detector) -> None:
        """Score with ``det`` from the next window on (operator feedback changed the normal set)."""
        with self._lock:
            self.det = det

    def locked(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` while no window is scored (the model is not made for concurrent calls)."""
        with self._lock:
            return fn()

    def score_windows(
        self, fn: Callable[..., Any], windows: list[Any], prompts: list[str], normal: list[str], rate: float
    ) -> tuple[list[Any], Scores | None, str | None]:
        """``fn(scorer, windows, ...)`` (:func:`score_windows`) and the best-matching prompt."""
        rec = _Recorder(self.det)
        with self._lock:
            rows, scores = fn(rec, windows, prompts or None, normal or None, rate)
            best = self._best_prompt(rec.embeddings, scores, prompts)
        return rows, scores, best

    def _best_prompt(self, embs: np.ndarray | None, scores: Scores | None, prompts: list[str]) -> str | None:
        if not prompts or embs is None or scores is None or len(embs) == 0:
            return None
        if len(prompts) == 1:
            return prompts[0]
        e = embs[int(np.nanargmax(scores.anomaly))]
        p = np.asarray(self.det.text_encoder().encode(list(prompts)), np.float64)
        cos = p @ e / (np.linalg.norm(p, axis=1) * np.linalg.norm(e) + 1e-12)
        return prompts[int(np.argmax(cos))]
