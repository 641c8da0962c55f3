"""`skelprompt fit`, `skelprompt score` and `skelprompt inspect` on clip files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from skelprompt.commands.common import choose_model, read_clip_inputs, write_json

console = Console()

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


def fit(
    normal: Annotated[list[str], typer.Argument(help="Clip files or folders of normal footage.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the detector (.safetensors).")],
    model: Annotated[str | None, typer.Option(help="Model file; default: the bundled model.")] = None,
    untrained: Annotated[bool, typer.Option(help="Use a randomly initialised encoder (control).")] = False,
    ood: Annotated[str, typer.Option(help="OoD score: knn or mahalanobis.")] = "knn",
    k: Annotated[int, typer.Option(help="Neighbours for the k-NN OoD score.")] = 5,
    combine: Annotated[
        str, typer.Option(help="How OoD and prompt combine: sum, paper, ood, prompt.")
    ] = "sum",
    false_alarm_rate: Annotated[
        float, typer.Option(help="Fraction of normal clips allowed above the threshold.")
    ] = 0.01,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Fit a detector on normal clips (no training: feature statistics only)."""
    from skelprompt.detector import Detector, DetectorConfig

    clips = read_clip_inputs(normal, trust_pickle, layout)
    try:
        cfg = DetectorConfig(ood=ood, k=k, combine=combine, false_alarm_rate=false_alarm_rate)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    det = Detector(choose_model(model, untrained), cfg)
    det.fit(clips, progress=True)
    det.info["normal_sources"] = sorted({c.source or "" for c in clips})[:50]
    det.save(out)
    console.print(f"fitted on {len(clips)} normal clips -> [bold]{out}[/bold]")


def score(
    inputs: Annotated[list[str], typer.Argument(help="Clip files or folders to score.")],
    detector: Annotated[Path, typer.Option("--detector", "-d", help="A detector from `skelprompt fit`.")],
    prompt: Annotated[
        list[str] | None, typer.Option("--prompt", "-p", help="Text naming the anomaly (repeatable).")
    ] = None,
    normal_prompt: Annotated[
        list[str] | None,
        typer.Option("--normal-prompt", "-n", help="Text naming normal activity (repeatable)."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write per-clip scores as JSON here.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Check that the detector was fitted with this model.")
    ] = None,
    false_alarm_rate: Annotated[
        float | None, typer.Option(help="Override the detector's false-alarm rate.")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows to print (0 = all).")] = 20,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Score clips: OoD, prompt and anomaly scores, ranked, with the alert threshold."""
    from skelprompt.detector import Detector
    from skelprompt.model import load_model

    det = Detector.load(detector, expect_model=load_model(model) if model else None)
    clips = read_clip_inputs(inputs, trust_pickle, layout)
    s = det.score(clips, prompt, normal_prompt, false_alarm_rate, progress=True)
    rows = []
    for i, c in enumerate(clips):
        rows.append(
            {
                "source": c.source,
                "frame_dir": c.frame_dir,
                "label": c.label,
                "anomaly": float(s.anomaly[i]),
                "ood": float(s.ood[i]),
                "prompt": float(s.prompt[i]),
                "p_ood": float(s.p_ood[i]),
                "p_prompt": float(s.p_prompt[i]),
                "is_anomaly": bool(s.is_anomaly[i]),
            }
        )
    order = np.argsort([-r["anomaly"] for r in rows], kind="stable")
    table = Table(title=f"{len(rows)} clips, threshold {s.threshold:.3f}")
    for col in ("rank", "clip", "anomaly", "ood", "prompt", "alert"):
        table.add_column(col, justify="right" if col not in ("clip",) else "left")
    shown = order if top <= 0 else order[:top]
    for rank, i in enumerate(shown, 1):
        r = rows[i]
        name = f"{Path(r['source']).name}::{r['frame_dir']}" if r["frame_dir"] else str(r["source"])
        table.add_row(
            str(rank), name, f"{r['anomaly']:.3f}", f"{r['ood']:.3f}", f"{r['prompt']:.3f}",
            "[red]ALERT[/red]" if r["is_anomaly"] else "",
        )  # fmt: skip
    console.print(table)
    if json_out:
        write_json(
            json_out,
            {
                "detector": str(detector),
                "prompts": s.prompts,
                "normal_prompts": s.normal_prompts,
                "threshold": s.threshold,
                "clips": rows,
            },
        )
        console.print(f"scores -> [bold]{json_out}[/bold]")


def inspect(
    file: Annotated[Path, typer.Argument(help="A clip file (.npz, or .pkl with --trust-pickle).")],
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Show what a clip file holds: persons, frames, layout, missing joints."""
    from skelprompt.io import load_clips

    clips = load_clips(file, trust_pickle=trust_pickle, layout=layout)
    table = Table(title=f"{file}: {len(clips)} clip(s)")
    for col in ("clip", "label", "layout", "persons", "frames", "fps", "image (h, w)", "missing joints"):
        table.add_column(col)
    for c in clips[:200]:
        table.add_row(
            str(c.frame_dir or "-"), str(c.label or "-"), c.layout, str(c.num_persons), str(c.num_frames),
            f"{c.fps:g}" if c.fps else "-", str(tuple(c.img_shape)) if c.img_shape else "-",
            f"{100 * c.missing_fraction():.1f}%",
        )  # fmt: skip
    console.print(table)
    if len(clips) > 200:
        console.print(f"... and {len(clips) - 200} more")


def register(app: typer.Typer) -> None:
    app.command()(fit)
    app.command()(score)
    app.command()(inspect)
