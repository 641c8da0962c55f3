"""`skelprompt benchmark NAME|all`: the zero-shot benchmarks of ../shared/data/README.md."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from skelprompt.commands.options import detector_option
from skelprompt.evaluation.hr_defaults import DEFAULT_FIT_WINDOWS as HR_FIT_WINDOWS
from skelprompt.evaluation.hr_defaults import DEFAULT_SIGMA as HR_SIGMA
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S

HR_NAMES = ("hr-shanghaitech", "hr-avenue")  # the frame-level benchmarks (evaluation.hr_benchmark)
HR_THREADS = 1

ENV_CACHE = "SKELPROMPT_CACHE"


def cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    return Path(env) if env else Path.home() / ".cache" / "skelprompt"


def leave_out_model_path(dataset: str) -> Path:
    return cache_dir() / "models" / f"without-{dataset}.safetensors"


def resolve_model(dataset: str, data_root: str | None, train: bool = True):
    """The cached leave-one-out model for ``dataset``; trained with the pretrain API if absent."""
    from skelprompt.errors import SkelpromptError
    from skelprompt.model import load_model

    path = leave_out_model_path(dataset)
    if path.exists():
        return load_model(path)
    cmd = f"skelprompt pretrain --data-root DIR --exclude {dataset} --out {path}"
    from dataclasses import replace

    try:
        from skelprompt.pretrain import run_pretrain
        from skelprompt.pretrain.config import PretrainConfig
    except ImportError:
        raise SkelpromptError(
            f"no leave-one-out model at {path} and pretraining is not available in this build; "
            f"make it with `{cmd}`, pass --model, or use --untrained"
        ) from None
    if not train:
        raise SkelpromptError(f"no leave-one-out model at {path}; make it with `{cmd}`")
    typer.echo(f"no cached model without {dataset}: pretraining one -> {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model, _ = run_pretrain(
        replace(PretrainConfig(), exclude=(dataset,)), path, data_root=data_root, command=cmd
    )
    return load_model(path)


def with_bank_size(variants: list, bank_size: int) -> list:
    """The detector variants of a benchmark run, each with this memory bank size."""
    from dataclasses import replace

    return [(name, replace(cfg, bank_size=bank_size), normal) for name, cfg, normal in variants]


def benchmark_threads() -> int:
    """Torch threads for a benchmark run: at most 2, as the recorded results were made (the
    thread count can change float rounding); the JSON's environment reports it."""
    return max(1, min(2, os.cpu_count() or 1))


def benchmark(
    name: Annotated[
        str,
        typer.Argument(
            help="Benchmark name (sbu-violence, ..., ucla-novel), 'all' (those six), "
            "or a frame-level one: hr-shanghaitech, hr-avenue."
        ),
    ],
    data_root: Annotated[
        str | None, typer.Option("--data-root", help="Folder holding the data sets.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model file (must be pretrained without the benchmark's data set)."),
    ] = None,
    untrained: Annotated[bool, typer.Option(help="Use the untrained encoder only (control).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write all results as JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a markdown report here.")] = None,
    robustness: Annotated[bool, typer.Option(help="Also run the error-injection study.")] = False,
    peer: Annotated[bool, typer.Option(help="Train and score the learned peer (GRU autoencoder).")] = True,
    prompt: Annotated[
        list[str] | None, typer.Option("--prompt", "-p", help="Override the anomaly prompts (repeatable).")
    ] = None,
    max_folds: Annotated[int | None, typer.Option(help="Only the first N folds (quick checks).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the peer and the error injectors.")] = 0,
    variants: Annotated[
        str,
        typer.Option(help="Detector variants: 'all', or 'core' (default, wrong prompt, cosine, OoD only)."),
    ] = "all",
    baselines: Annotated[bool, typer.Option(help="Score the raw-pose and speed baselines.")] = True,
    control: Annotated[bool, typer.Option(help="Also score the untrained-encoder control.")] = True,
    bank_size: Annotated[
        int | None,
        typer.Option(
            help="k-NN memory bank size of the skelprompt detector rows (0: exact); default: the detector's.",
            callback=detector_option("bank_size"),
        ),
    ] = None,
    fit_windows: Annotated[
        int, typer.Option(help="hr-*: training person windows fitted on, evenly spaced (0: all).")
    ] = HR_FIT_WINDOWS,
    sigma: Annotated[
        float, typer.Option(help="hr-*: Gaussian smoothing of frame scores, in frames (0: none).")
    ] = HR_SIGMA,
    window_length: Annotated[float, typer.Option(help="hr-*: window length, seconds.")] = DEFAULT_LENGTH_S,
    window_stride: Annotated[float, typer.Option(help="hr-*: window stride, seconds.")] = DEFAULT_STRIDE_S,
    limit_videos: Annotated[
        int | None, typer.Option(help="hr-*: only the first N training and test videos (quick checks).")
    ] = None,
) -> None:
    """Run anomaly benchmarks: method variants, untrained control, baselines, peer."""
    import torch
    from rich.console import Console

    from skelprompt.commands.common import Output, check_outputs, write_json
    from skelprompt.errors import SkelpromptError
    from skelprompt.evaluation.protocols import BENCHMARKS, get_benchmark
    from skelprompt.evaluation.report import markdown_report, results_table
    from skelprompt.evaluation.runner import run_benchmark
    from skelprompt.evaluation.variants import VARIANT_SETS, variant_set
    from skelprompt.io.atomic import write_text_atomic
    from skelprompt.model import load_model

    console = Console()
    check_outputs([Output("--json", json_out), Output("--markdown", markdown)], [model])
    if name in HR_NAMES:
        hr = HROptions(fit_windows, sigma, window_length, window_stride, limit_videos)
        _run_hr(name, data_root, model, untrained, prompt, seed, baselines, peer, hr, json_out)
        return
    if model and untrained:
        raise SkelpromptError("give either --model or --untrained, not both")
    if variants not in VARIANT_SETS:
        raise SkelpromptError(f"--variants {variants!r}: choose from {', '.join(VARIANT_SETS)}")
    names = list(BENCHMARKS) if name == "all" else [get_benchmark(name).name]
    detector_variants = variant_set(variants)
    if bank_size is not None:
        detector_variants = with_bank_size(detector_variants, bank_size)
    t0 = time.perf_counter()
    results = []
    for n in names:
        bench = get_benchmark(n)
        if untrained:
            m = None
        elif model:
            m = load_model(model)
        else:
            m = resolve_model(bench.dataset, data_root)
        console.print(f"[bold]{n}[/bold]")
        torch.set_num_threads(benchmark_threads())  # a process-wide setting: the command's to make
        results.append(
            run_benchmark(
                n, data_root, m, prompt or None, robustness=robustness, peer=peer, max_folds=max_folds,
                seed=seed, log=lambda s: console.print(f"  {s}"), detector_variants=detector_variants,
                baselines=baselines, control=control,
            )
        )  # fmt: skip
    total = time.perf_counter() - t0
    console.print(results_table(results), markup=False, soft_wrap=True)
    console.print(f"benchmark {name}: {total:.1f} s")
    if json_out:
        write_json(json_out, {"benchmarks": results, "total_seconds": total, "command": name})
    if markdown:
        write_text_atomic(markdown, markdown_report(results))


@dataclass(frozen=True)
class HROptions:
    fit_windows: int
    sigma: float
    length_s: float
    stride_s: float
    limit: int | None


def _run_hr(
    name: str,
    data_root: str | None,
    model: str | None,
    untrained: bool,
    prompt: list[str] | None,
    seed: int,
    baselines: bool,
    peer: bool,
    hr: HROptions,
    json_out: Path | None,
) -> None:
    """One frame-level benchmark: the bundled model unless --model (no pretraining set holds
    these videos, so no leave-one-out model is needed)."""
    import torch

    from skelprompt.commands.common import write_json
    from skelprompt.datasets.registry import default_data_root
    from skelprompt.errors import SkelpromptError
    from skelprompt.evaluation.hr_benchmark import results_lines, run_hr_benchmark
    from skelprompt.model import load_model, untrained_model

    if model and untrained:
        raise SkelpromptError("give either --model or --untrained, not both")
    if hr.fit_windows < 0 or hr.sigma < 0 or hr.length_s <= 0 or hr.stride_s <= 0:
        raise SkelpromptError("--fit-windows and --sigma must be >= 0, window length and stride > 0")
    m = untrained_model("small", seed=0) if untrained else load_model(model) if model else load_model()
    # one thread, a process-wide setting and the command's to make: encoding person windows on
    # a shared 2-core machine took 13 ms a clip with one thread and 358 ms with two (measured)
    torch.set_num_threads(HR_THREADS)
    out = run_hr_benchmark(
        name, data_root or default_data_root(), m, prompt or None, length_s=hr.length_s, stride_s=hr.stride_s,
        fit_windows=hr.fit_windows, sigma=hr.sigma, baselines=baselines, peer=peer, seed=seed,
        limit=hr.limit, log=lambda s: typer.echo(f"  {s}"),
    )  # fmt: skip
    for line in results_lines(out):
        typer.echo(line)
    if json_out:
        write_json(json_out, {"benchmarks": [out], "total_seconds": out["timings"]["total"], "command": name})


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark)
