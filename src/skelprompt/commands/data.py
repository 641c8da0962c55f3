"""``skelprompt data``: list the registered data sets, summarise one, export clips."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

data_app = typer.Typer(
    help="The registered skeleton data sets (which you download yourself).", no_args_is_help=True
)

DataRoot = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder that holds the data set folders (default: see `data list`)."),
]


@data_app.command("list")
def list_cmd(
    data_root: DataRoot = None,
) -> None:
    """Show the registered data sets and whether each is found under the data root."""
    from skelprompt.datasets.registry import DATASETS, default_data_root

    root = data_root if data_root is not None else default_data_root()
    table = Table(title=f"data sets (data root: {root})")
    for col in ("name", "description", "persons", "fps", "found"):
        table.add_column(col)
    for info in DATASETS.values():
        found = (root / info.folder).is_dir()
        table.add_row(
            info.name,
            info.description,
            str(info.persons),
            f"{info.fps:g}" if info.fps else "-",
            "yes" if found else f"no ({info.folder}/)",
        )
    Console(width=160).print(table)


@data_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Data set name (see `skelprompt data list`).")],
    data_root: DataRoot = None,
) -> None:
    """Counts per class, clip lengths, persons and missing joints of one data set."""
    from skelprompt.datasets.registry import get_info, load_dataset

    info = get_info(name)
    clips = load_dataset(name, data_root)
    console = Console(width=160)
    frames = np.array([c.num_frames for c in clips])
    persons = Counter(c.num_persons for c in clips)
    missing = float(
        sum(float((c.keypoint_score <= 0).sum()) for c in clips)
        / max(1, sum(c.keypoint_score.size for c in clips))
    )
    summary = Table(title=f"{info.name}: {info.description}", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    summary.add_row("clips", str(len(clips)))
    summary.add_row("layout", ", ".join(sorted({c.layout for c in clips})))
    summary.add_row(
        "frames min / median / max", f"{frames.min()} / {int(np.median(frames))} / {frames.max()}"
    )
    summary.add_row("frames total", str(int(frames.sum())))
    summary.add_row("persons per clip", ", ".join(f"{k}: {v} clips" for k, v in sorted(persons.items())))
    summary.add_row("missing-joint fraction", f"{missing:.4f}")
    summary.add_row("3D", "yes" if any(c.keypoint3d is not None for c in clips) else "no")
    console.print(summary)
    by_class = Counter(c.label for c in clips)
    table = Table(title="clips per class")
    table.add_column("class")
    table.add_column("clips", justify="right")
    table.add_column("frames", justify="right")
    for label, n in sorted(by_class.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        table.add_row(str(label), str(n), str(sum(c.num_frames for c in clips if c.label == label)))
    console.print(table)


@data_app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Data set name (see `skelprompt data list`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Clip file to write (.npz).")],
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="Keep only clips with this class (repeatable).")
    ] = None,
    exclude_label: Annotated[
        list[str] | None, typer.Option("--exclude-label", help="Drop clips with this class (repeatable).")
    ] = None,
    data_root: DataRoot = None,
) -> None:
    """Write a data set's clips (optionally some classes only) as a skelprompt .npz clip file,
    ready for `skelprompt fit` and `skelprompt score`."""
    from skelprompt.commands.common import Output, check_outputs
    from skelprompt.datasets.registry import dataset_path, load_dataset
    from skelprompt.errors import SkelpromptError
    from skelprompt.io import save_clips

    # every file in the data set's folder may be one it reads
    check_outputs([Output("--out", out, ".npz")], [dataset_path(name, data_root)], read_suffixes=None)
    clips = load_dataset(name, data_root)
    keep = [
        c
        for c in clips
        if (not label or c.label in label) and not (exclude_label and c.label in exclude_label)
    ]
    if not keep:
        known = sorted({str(c.label) for c in clips})
        raise SkelpromptError(f"{name}: no clip matches the labels given; classes: {', '.join(known)}")
    save_clips(out, keep)
    Console(stderr=True).print(f"{len(keep)} of {len(clips)} {name} clips -> [bold]{out}[/bold]")


def register(app: typer.Typer) -> None:
    if any(getattr(g, "name", None) == "data" for g in app.registered_groups):
        return
    app.add_typer(data_app, name="data")
