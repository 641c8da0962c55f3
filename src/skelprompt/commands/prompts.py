"""`skelprompt prompts learn`: learn prompt context vectors (CoOp) on the pretraining pool or on
a few anomaly examples; `skelprompt prompts show`: what a learned-prompt file holds.

Also the shared ``--learned-prompt`` and ``--anomaly-examples`` options of `score`, `serve` and
`fit`, and reading anomaly examples (clip files or videos cut into windows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from skelprompt.clip import Clip
from skelprompt.commands.common import Output, check_outputs, read_clip_inputs
from skelprompt.commands.options import AnomalyPrompts, Layout, NormalPrompts, TrustPickle
from skelprompt.errors import SkelpromptError
from skelprompt.footage.sources import FootageSettings
from skelprompt.prompt_learning.learn import LearnSettings

_DEFAULTS = LearnSettings()
DEFAULT_INIT = "a person is"
DEFAULT_CLIPS_PER_CLASS = 32  # CoOp learns from 1-16 shots per class; more only slows encoding  # CoOp starts from "a photo of a"; this is the pretraining templates'

LearnedPromptFile = Annotated[
    Path | None,
    typer.Option(
        "--learned-prompt",
        help="A learned prompt from `skelprompt prompts learn`: prompts are embedded after its context.",
    ),
]
AnomalyExamples = Annotated[
    list[str] | None,
    typer.Option(
        "--anomaly-examples",
        help="Clip files, folders or videos showing the anomaly (a handful; repeatable). Videos are cut into windows.",
    ),
]

prompts_app = typer.Typer(
    help="Learn prompt context (CoOp) and inspect learned prompts.", no_args_is_help=True
)


def read_examples(
    paths: list[str],
    trust_pickle: bool = False,
    layout: str = "coco17",
    settings: FootageSettings | None = None,
) -> list[Clip]:
    """Anomaly examples: the clips in clip files, and every whole-scene window of each video
    (cut the video to the anomaly; persons are not split off, they may be bystanders)."""
    from skelprompt.footage import split_inputs
    from skelprompt.footage.sources import extract
    from skelprompt.footage.windows import normal_windows

    videos, others = split_inputs(paths)
    clips = read_clip_inputs(others, trust_pickle, layout) if others else []
    settings = settings or FootageSettings()
    for v in videos:
        windows = normal_windows(
            [extract(v, settings)], settings.window_length_s, settings.window_stride_s, False
        )
        if not windows:
            raise SkelpromptError(f"{v}: no window with a person in it to use as an anomaly example")
        clips += windows
    if not clips:
        raise SkelpromptError(f"{', '.join(paths)}: no anomaly examples found")
    return clips


def load_learned(path: Path | None):  # -> LearnedPrompt | None
    from skelprompt.prompt_learning.file import load_learned_prompt

    return load_learned_prompt(path) if path is not None else None


@prompts_app.command("learn")
def learn(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the learned prompt (.safetensors).")
    ],
    model: Annotated[str | None, typer.Option(help="Model file; default: the bundled model.")] = None,
    data_root: Annotated[
        Path | None, typer.Option(help="Data sets folder for learning on the pretraining pool.")
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Pool: leave this data set out (repeatable; a benchmark's own, for zero-shot)."),
    ] = None,
    anomaly_examples: AnomalyExamples = None,
    normal: Annotated[
        list[str] | None,
        typer.Option("--normal", help="Examples: normal clip files or folders (repeatable)."),
    ] = None,
    prompt: AnomalyPrompts = None,
    normal_prompt: NormalPrompts = None,
    start: Annotated[
        Path | None, typer.Option(help="Examples: start from this learned prompt (e.g. the pool's).")
    ] = None,
    init: Annotated[str, typer.Option(help="Words whose token embeddings start the context.")] = DEFAULT_INIT,
    num_context: Annotated[
        int, typer.Option(help="Context vectors when --init is empty (random start).", min=1, max=64)
    ] = 4,
    steps: Annotated[int, typer.Option(help="Optimisation steps.", min=1)] = _DEFAULTS.steps,
    lr: Annotated[float, typer.Option(help="Adam learning rate.", min=1e-7)] = _DEFAULTS.lr,
    anchor_weight: Annotated[
        float, typer.Option(help="Examples: pull towards the starting context.", min=0.0)
    ] = _DEFAULTS.anchor_weight,
    max_clips_per_dataset: Annotated[
        int, typer.Option(help="Pool: at most this many clips per data set (0 = all).", min=0)
    ] = 0,
    max_clips_per_class: Annotated[
        int, typer.Option(help="Pool: at most this many clips per class (0 = all).", min=0)
    ] = DEFAULT_CLIPS_PER_CLASS,
    seed: Annotated[int, typer.Option(help="Seed of the step sampling.")] = _DEFAULTS.seed,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Learn context vectors for the frozen text encoder (CoOp); the skeleton model stays frozen.

    Without --anomaly-examples: on the pretraining pool (the bundled recipe's data sets under
    --data-root, minus --exclude), each clip against its class name. With --anomaly-examples,
    --normal and --prompt: so that the examples side with the prompts and the normal clips with
    the normal anchors and --normal-prompt.
    """
    from skelprompt.commands.common import choose_model
    from skelprompt.model.checkpoint import model_checksum
    from skelprompt.model.text import get_text_encoder
    from skelprompt.prompt_learning.encoder import ContextEncoder, initial_context
    from skelprompt.prompt_learning.file import LearnedPrompt, finite_losses

    inputs = [*(anomaly_examples or []), *(normal or []), model, start]
    check_outputs([Output("--out", out, ".safetensors")], inputs)
    try:
        settings = LearnSettings(steps=steps, lr=lr, anchor_weight=anchor_weight, seed=seed)
    except ValueError as e:
        raise SkelpromptError(f"learning options: {e}") from None
    encoder = choose_model(model, False)
    base = get_text_encoder(encoder.cfg.text_encoder)
    if start is not None:
        context = load_learned(start).context
    else:
        try:
            context = initial_context(base, init, num_context, seed)
        except ValueError as e:
            raise SkelpromptError(f"--num-context: {e}") from None
    if context.shape[1] == 0:
        raise SkelpromptError(f"--init {init!r}: no tokens")
    enc = ContextEncoder(base, context)
    scale = float(encoder.logit_scale.detach().exp().clamp(max=100.0))
    provenance: dict[str, object] = {
        "model_checksum": model_checksum(encoder),
        "model_provenance_datasets": encoder.provenance.get("datasets"),
        "init": "" if start is not None else init,
        "start": str(start.name) if start is not None else None,
        "steps": steps,
        "lr": lr,
        "seed": seed,
        "logit_scale": round(scale, 4),
    }
    if anomaly_examples:
        result = _learn_on_examples(enc, encoder, scale, settings, anomaly_examples, normal, prompt,
                                    normal_prompt, trust_pickle, layout, provenance)  # fmt: skip
    else:
        if normal or prompt or normal_prompt or start:
            raise SkelpromptError(
                "--normal, --prompt, --normal-prompt and --start are for --anomaly-examples"
            )
        result = _learn_on_pool(enc, encoder, scale, settings, data_root, exclude or [],
                                (max_clips_per_dataset, max_clips_per_class), provenance)  # fmt: skip
    provenance["losses"] = finite_losses(result.losses[:: max(1, len(result.losses) // 50)])
    provenance["first_loss"], provenance["last_loss"] = (
        round(result.first_loss, 5),
        round(result.last_loss, 5),
    )
    LearnedPrompt(enc.context.detach().clone(), base.name, provenance).save(out)
    typer.echo(f"loss {result.first_loss:.4f} -> {result.last_loss:.4f}; learned prompt -> {out}")


def _learn_on_pool(enc, encoder, scale, settings, data_root, exclude, caps, provenance):
    from skelprompt.datasets.registry import get_info
    from skelprompt.prompt_learning.learn import learn_on_pool
    from skelprompt.prompt_learning.pool import pool_embeddings

    for name in exclude:
        get_info(name)  # a clear error for an unknown data set
    seen = set(encoder.provenance.get("datasets") or {}) & set(exclude)
    if seen:  # the context would stay out of data the skeleton model itself was trained on
        typer.echo(
            f"warning: the model was pretrained on {', '.join(sorted(seen))}: not zero-shot there", err=True
        )
    pool = pool_embeddings(encoder, data_root, tuple(exclude), *caps)
    provenance.update({"mode": "pool", "datasets": pool.datasets, "excluded": list(exclude),
                       "num_clips": len(pool.labels), "num_classes": len(pool.texts)})  # fmt: skip
    return learn_on_pool(enc, pool.embeddings, pool.labels, pool.texts, scale, settings)


def _learn_on_examples(enc, encoder, scale, settings, examples, normal, prompt, normal_prompt,
                       trust_pickle, layout, provenance):  # fmt: skip
    from skelprompt.model.features import extract_features
    from skelprompt.prompt_learning.learn import learn_on_examples

    if not prompt:
        raise SkelpromptError("--anomaly-examples needs --prompt: the words to learn the context for")
    if not normal:
        raise SkelpromptError(
            "--anomaly-examples needs --normal: clips of normal activity to contrast them with"
        )
    anomalies = read_examples(examples, trust_pickle, layout)
    normals = read_clip_inputs(normal, trust_pickle, layout)
    provenance.update({"mode": "examples", "prompts": list(prompt), "normal_prompts": list(normal_prompt or []),
                       "num_examples": len(anomalies), "num_normal": len(normals)})  # fmt: skip
    a = extract_features(encoder, anomalies)[1]
    n = extract_features(encoder, normals)[1]
    return learn_on_examples(enc, a, n, list(prompt), list(normal_prompt or []), scale, settings)


@prompts_app.command("show")
def show(path: Annotated[Path, typer.Argument(help="A learned-prompt file.")]) -> None:
    """Print a learned prompt's checksum, size and provenance (the file is checked first)."""
    lp = load_learned(path)
    typer.echo(json.dumps({"checksum": lp.checksum(), "text_encoder": lp.text_encoder,
                           "num_context": lp.num_context, "provenance": lp.provenance}, indent=1))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")
