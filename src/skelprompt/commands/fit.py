"""`skelprompt fit`: a detector from normal clip files and normal videos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from skelprompt.commands.common import Output, check_outputs, choose_model, read_clip_inputs
from skelprompt.commands.config_options import config_options
from skelprompt.commands.options import (
    InputSize,
    Layout,
    PoseBackend,
    TrustPickle,
    WindowLength,
    WindowStride,
    non_negative,
)
from skelprompt.commands.prompts import AnomalyExamples
from skelprompt.detector import DetectorConfig
from skelprompt.detector.config import normal_clips_needed, too_few_normal_clips
from skelprompt.errors import SkelpromptError
from skelprompt.footage.sources import DEFAULT_POSE_BACKEND, DEFAULT_POSE_INPUT_SIZE, FootageSettings
from skelprompt.footage.video import NormalFootage
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S

console = Console()

DEFAULT_FALSE_ALARMS_PER_HOUR = 1.0


@config_options(DetectorConfig, into="detector_options")
def fit(
    normal: Annotated[list[str], typer.Argument(help="Clip files or folders of normal footage.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the detector (.safetensors).")],
    model: Annotated[str | None, typer.Option(help="Model file; default: the bundled model.")] = None,
    untrained: Annotated[bool, typer.Option(help="Use a randomly initialised encoder (control).")] = False,
    *,
    detector_options: dict[str, Any],  # one option per DetectorConfig field (config_options)
    false_alarms_per_hour: Annotated[
        float,
        typer.Option(
            help="For footage: alarms per hour of normal video allowed (sets the threshold).",
            callback=non_negative,
        ),
    ] = DEFAULT_FALSE_ALARMS_PER_HOUR,
    window_length: WindowLength = DEFAULT_LENGTH_S,
    window_stride: WindowStride = DEFAULT_STRIDE_S,
    input_size: InputSize = DEFAULT_POSE_INPUT_SIZE,
    pose_backend: PoseBackend = DEFAULT_POSE_BACKEND,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
    anomaly_examples: AnomalyExamples = None,
) -> None:
    """Fit a detector on normal clips or normal videos (no training: feature statistics only).

    Videos (and folders of them) are run through pose estimation and tracking, cut into
    windows, and the threshold is set at --false-alarms-per-hour on that footage.
    --anomaly-examples: a few clips (or short videos) of the anomaly, kept as exemplars: clips
    near them score higher (few-shot; the zero-shot score is reported beside it).
    """
    from skelprompt.commands.prompts import read_examples
    from skelprompt.detector import Detector
    from skelprompt.detector.few_shot import fit_with_examples
    from skelprompt.footage import VIDEO_SUFFIXES, normal_footage, split_inputs
    from skelprompt.io import CLIP_SUFFIXES

    examples_in = anomaly_examples or []
    check_outputs([Output("--out", out)], [*normal, *examples_in, model], CLIP_SUFFIXES + VIDEO_SUFFIXES)
    encoder = choose_model(model, untrained)  # a bad model file fails before minutes of pose work
    videos, others = split_inputs(normal)
    if not videos and not others:
        raise SkelpromptError(f"{', '.join(normal)}: no clip files or videos found")
    clips = read_clip_inputs(others, trust_pickle, layout) if others else []
    footage = None
    false_alarm_rate = detector_options["false_alarm_rate"]
    if videos:
        settings = FootageSettings(window_length, window_stride, input_size, pose_backend)
        footage = normal_footage(videos, settings, false_alarms_per_hour)
        clips += footage.clips
        false_alarm_rate = footage.false_alarm_rate
    try:  # each option was checked alone when parsed; this checks them together
        cfg = DetectorConfig(**{**detector_options, "false_alarm_rate": false_alarm_rate})
    except ValueError as e:
        raise SkelpromptError(f"detector options: {e}") from None
    det = Detector(encoder, cfg)
    if examples_in:
        settings = FootageSettings(window_length, window_stride, input_size, pose_backend)
        fit_with_examples(
            det, clips, read_examples(examples_in, trust_pickle, layout, settings), progress=True
        )
    else:
        det.fit(clips, progress=True)
    det.info["normal_sources"] = sorted({c.source or "" for c in clips})[:50]
    if footage is not None:
        det.info.update(footage.info)
    det.save(out)
    what = "windows" if footage is not None else "clips"
    examples = f" and {det.exemplars.count} anomaly examples" if det.exemplars is not None else ""
    console.print(f"fitted on {len(clips)} normal {what}{examples} -> [bold]{out}[/bold]")
    _warn_if_too_few(len(clips), false_alarm_rate, footage)


def _warn_if_too_few(num_normal: int, false_alarm_rate: float, footage: NormalFootage | None) -> None:
    """Warn when the threshold cannot be estimated from this few normal clips (windows), with
    how much more normal data it would need."""
    what = "windows" if footage is not None else "clips"
    warning = too_few_normal_clips(num_normal, false_alarm_rate, what)
    if not warning:
        return
    hint = ""
    if footage is not None:  # one whole-scene window per stride: footage that gives enough of them
        seconds = normal_clips_needed(false_alarm_rate) * footage.info["window_stride_s"]
        hint = f" (at least {seconds / 60:.0f} min of footage)"
    typer.echo(f"warning: {warning}; fit on more normal data{hint} or allow more false alarms", err=True)


def register(app: typer.Typer) -> None:
    app.command()(fit)
