"""Scoring with a learned prompt: a detector whose prompts are embedded after the context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skelprompt.model.text import get_text_encoder
from skelprompt.prompt_learning.file import LearnedPrompt

if TYPE_CHECKING:
    from skelprompt.detector.detector import Detector


def with_learned_prompt(det: Detector, learned: LearnedPrompt) -> Detector:
    """A copy of ``det`` (sharing its fitted state) that embeds every prompt, normal anchor and
    normal prompt through ``learned``'s context. Template ensembling is turned off: the learned
    context takes the templates' place."""
    new = det.with_options(prompt_ensemble=False)  # a copy already
    new._text_encoder = learned.encoder(
        get_text_encoder(det.model.cfg.text_encoder)
    )  # the detector's text encoder is otherwise lazy
    new.info = {**new.info, "learned_prompt": {"checksum": learned.checksum(), **_summary(learned)}}
    return new


def _summary(learned: LearnedPrompt) -> dict[str, object]:
    keys = ("mode", "datasets", "prompts", "num_examples", "steps")
    return {k: learned.provenance[k] for k in keys if k in learned.provenance}
