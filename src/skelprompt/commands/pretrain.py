"""``skelprompt pretrain``: train the skeleton-text model on labelled data sets (Eq. 5-9).

Leave-one-data-set-out (the zero-shot rule of the benchmarks) is ``--exclude NAME``. Runs
under ``torchrun --nproc_per_node N -m skelprompt.cli pretrain ...`` for data parallelism.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from skelprompt.pretrain.pyskl_source import PysklSpec


def pretrain(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.safetensors).")],
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="Folder holding the data set folders.")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Data set to use (repeat); default: all but URFD (see MODEL_CARD)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Data set to leave out (repeat), e.g. --exclude sbu."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML file of pretraining options (default: the bundled model's recipe)."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Total epochs (overrides the config).")] = None,
    stage1_epochs: Annotated[int | None, typer.Option(help="Epochs with alpha = 1 first.")] = None,
    preset: Annotated[str | None, typer.Option(help="Network size: small | paper.")] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue from this model file (needs its .train-state file).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Clips per step and process.")] = None,
    frames: Annotated[int | None, typer.Option(help="Frames per clip fed to the encoder.")] = None,
    max_clips_per_dataset: Annotated[
        int | None, typer.Option(help="Use at most this many clips of each data set (0 = all).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per process.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    pyskl: Annotated[
        Path | None,
        typer.Option(
            help="PySKL annotation pickle (converted once to shards beside it) or shard folder, streamed."
        ),
    ] = None,
    trust_pickle: Annotated[
        bool, typer.Option(help="Allow reading the --pyskl pickle (only for files you trust).")
    ] = False,
    label_names: Annotated[
        str | None,
        typer.Option(
            help="Names of the --pyskl class indices: a file (one a line) or ntu60 | ntu120 | kinetics400."
        ),
    ] = None,
    pyskl_layout: Annotated[
        str, typer.Option(help="Joint layout of the --pyskl keypoints (PySKL's 2D files: coco17).")
    ] = PysklSpec.layout,
    amp: Annotated[
        bool | None, typer.Option("--amp/--no-amp", help="Mixed precision (bf16 on CPU, fp16 on CUDA).")
    ] = None,
) -> None:
    """Pretrain the encoder F, classifier and text projection f on labelled skeleton data sets."""
    from skelprompt.commands.common import Output, check_outputs
    from skelprompt.errors import SkelpromptError
    from skelprompt.pretrain.config import PretrainConfig
    from skelprompt.pretrain.loop import run_pretrain

    check_outputs([Output("--out", out)], [config, pyskl])
    cfg = PretrainConfig.from_yaml(config) if config else PretrainConfig()
    d = cfg.to_dict()
    if include:
        d["datasets"] = [n.lower() for n in include]
    if exclude:
        d["exclude"] = sorted({*d.get("exclude", []), *(n.lower() for n in exclude)})
    for k, v in {"epochs": epochs, "stage1_epochs": stage1_epochs, "preset": preset, "seed": seed, "lr": lr,
                 "batch_size": batch_size, "frames": frames, "num_threads": threads, "amp": amp,
                 "max_clips_per_dataset": max_clips_per_dataset}.items():  # fmt: skip
        if v is not None:
            d[k] = v
    cfg = PretrainConfig.from_dict(d)
    from skelprompt.datasets.registry import DATASETS

    unknown = [n for n in (*cfg.datasets, *cfg.exclude) if n not in DATASETS]
    if unknown:
        raise SkelpromptError(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    command = "skelprompt " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    source = None
    if pyskl is not None:
        source = PysklSpec(pyskl, trust_pickle=trust_pickle, label_names=label_names, layout=pyskl_layout)
    _, summary = run_pretrain(
        cfg, out, data_root, resume=resume, command=command, progress=progress, device=device, pyskl=source
    )
    last = summary["history"][-1] if summary["history"] else {}
    if last.get("val_top1") is not None:
        typer.echo(
            f"wrote {out}: {summary['classes']} classes, val top-1 {last['val_top1']:.3f}, "
            f"retrieval {last['val_retrieval']:.3f}, {summary['train_time_s']:.0f} s of training"
        )


def register(app: typer.Typer) -> None:
    app.command()(pretrain)
