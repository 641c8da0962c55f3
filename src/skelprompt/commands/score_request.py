"""What `skelprompt score` was asked, shared by its four modes (clip files, videos, live
sources, an archive of videos): the inputs, the detector, the prompts and the overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from skelprompt.footage.sources import VIDEO_SUFFIXES
from skelprompt.io import CLIP_SUFFIXES

if TYPE_CHECKING:
    from skelprompt.detector import Detector
    from skelprompt.footage import FootageSettings

READ_SUFFIXES = CLIP_SUFFIXES + VIDEO_SUFFIXES  # what score reads from a folder


@dataclass(frozen=True)
class ScoreRequest:
    inputs: list[str]
    detector: Path
    model: str | None = None  # check that the detector was fitted with this model
    prompts: list[str] | None = None
    normal_prompts: list[str] | None = None
    false_alarm_rate: float | None = None  # None: the detector's
    # footage overrides, None: the detector's
    window_length: float | None = None
    window_stride: float | None = None
    input_size: int | None = None
    pose_backend: str | None = None
    learned_prompt: Path | None = None  # a file of `skelprompt prompts learn`

    def load_detector(self) -> Detector:
        """The detector (checked against ``model``) with its operator feedback and learned
        prompt, and a warning when the false-alarm rate
        asked for needs more normal clips than it was fitted on."""
        from skelprompt.detector.config import too_few_normal_clips
        from skelprompt.detector.feedback import load_with_feedback
        from skelprompt.footage.results import normal_clip_count
        from skelprompt.model import load_model

        det = load_with_feedback(self.detector, expect_model=load_model(self.model) if self.model else None)
        if self.learned_prompt is not None:
            from skelprompt.commands.prompts import load_learned
            from skelprompt.prompt_learning.apply import with_learned_prompt

            det = with_learned_prompt(det, load_learned(self.learned_prompt))
        if self.false_alarm_rate is not None:
            warning = too_few_normal_clips(normal_clip_count(det) or 0, self.false_alarm_rate)
            if warning:
                typer.echo(f"warning: --false-alarm-rate {self.false_alarm_rate:g}: {warning}", err=True)
        return det

    def settings(self, det: Detector) -> FootageSettings:
        """How footage is read and cut: the detector's settings, each override replacing one."""
        from skelprompt.footage import FootageSettings

        return FootageSettings.of_detector(
            det.info, self.window_length, self.window_stride, self.input_size, self.pose_backend
        )
