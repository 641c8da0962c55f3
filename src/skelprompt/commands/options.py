"""Command-line options shared by `fit`, `score`, `extract` and `inspect`, and the checks of
their values: a value out of range is a usage error naming the option, before any work."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

POSE_SIZE_STEP = 32  # pose model input sizes are multiples of this

# options that `score` and `serve` declare alike
DetectorFile = Annotated[Path, typer.Option("--detector", "-d", help="A detector from `skelprompt fit`.")]
AnomalyPrompts = Annotated[
    list[str] | None, typer.Option("--prompt", "-p", help="Text naming the anomaly (repeatable).")
]
NormalPrompts = Annotated[
    list[str] | None,
    typer.Option("--normal-prompt", "-n", help="Text naming normal activity (repeatable)."),
]


def positive_seconds(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number of seconds above 0, got {value:g}")
    return value


def non_negative(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"must be a number >= 0, got {value:g}")
    return value


def unit_interval(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"must be between 0 and 1, got {value:g}")
    return value


def pose_input_size(value: int | None) -> int | None:
    if value is not None and (value <= 0 or value % POSE_SIZE_STEP):
        raise typer.BadParameter(
            f"must be a positive multiple of {POSE_SIZE_STEP} (256 is fast, 512 finds small people), got {value}"
        )
    return value


def detector_option(field: str) -> Callable[[Any], Any]:
    """A check of an option that sets the DetectorConfig field ``field`` (for commands that
    declare it themselves, e.g. `score --false-alarm-rate`): the config's own check, so the
    command line and the library accept the same values."""

    def check(value: Any) -> Any:
        from skelprompt.commands.config_options import value_check
        from skelprompt.detector import DetectorConfig

        return value_check(DetectorConfig, field)(value)

    return check


WindowLength = Annotated[
    float, typer.Option(help="Footage: window length in seconds.", callback=positive_seconds)
]
WindowStride = Annotated[
    float, typer.Option(help="Footage: window stride in seconds.", callback=positive_seconds)
]
InputSize = Annotated[
    int,
    typer.Option(
        help=(
            "Footage: pose model input size (multiple of 32), recorded in the detector and used by "
            "`score`. 256 keeps live scoring at camera speed on a CPU; 512 finds small, distant "
            "people at 2-4x the pose time."
        ),
        callback=pose_input_size,
    ),
]
PoseBackend = Annotated[str, typer.Option(help="Footage: pose estimator (movenet).")]
TrustPickle = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Allow reading PySKL .pkl files (a pickle can run code: only for files you trust).",
    ),
]
Layout = Annotated[
    str, typer.Option(help="Joint layout of PySKL pickles (skelprompt .npz files carry their own).")
]
