"""`skelprompt inspect`: what a clip file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from skelprompt.commands.options import Layout, TrustPickle

console = Console()
MAX_ROWS = 200


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
    for c in clips[:MAX_ROWS]:
        table.add_row(
            str(c.frame_dir or "-"), str(c.label or "-"), c.layout, str(c.num_persons), str(c.num_frames),
            f"{c.fps:g}" if c.fps else "-", str(tuple(c.img_shape)) if c.img_shape else "-",
            f"{100 * c.missing_fraction():.1f}%",
        )  # fmt: skip
    console.print(table)
    if len(clips) > MAX_ROWS:
        console.print(f"... and {len(clips) - MAX_ROWS} more")


def register(app: typer.Typer) -> None:
    app.command()(inspect)
