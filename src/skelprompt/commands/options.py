"""Command-line options shared by `fit`, `score` and `inspect`."""

from __future__ import annotations

from typing import Annotated

import typer

WindowLength = Annotated[float, typer.Option(help="Footage: window length in seconds.")]
WindowStride = Annotated[float, typer.Option(help="Footage: window stride in seconds.")]
InputSize = Annotated[
    int, typer.Option(help="Footage: pose model input size (multiple of 32; 512 finds small people).")
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
