"""`skelprompt fit`, `skelprompt score` and `skelprompt inspect` on clip files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from skelprompt.commands.common import choose_model, read_clip_inputs, write_json
from skelprompt.timeline import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S

console = Console()

WindowLength = Annotated[float, typer.Option(help="Footage: window length in seconds.")]
WindowStride = Annotated[float, typer.Option(help="Footage: window stride in seconds.")]
InputSize = Annotated[
    int, typer.Option(help="Footage: pose model input size (multiple of 32; 512 finds small people).")
]

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
    ood_features: Annotated[
        str,
        typer.Option(
            help="What the OoD distance is measured on, '+'-joined: pose (raw poses), model (pretrained encoder), random (random encoder)."
        ),
    ] = "pose+model",
    symmetric: Annotated[
        bool,
        typer.Option(help="Add mirrored (and person-swapped) copies of the normal clips to the normal set."),
    ] = True,
    prompt_weight: Annotated[
        float, typer.Option(help="Weight of the prompt score against the OoD score.")
    ] = 0.25,
    normal_weight: Annotated[
        float, typer.Option(help="Weight of normal prompts when anomaly prompts are given too.")
    ] = 0.5,
    combine: Annotated[
        str, typer.Option(help="How OoD and prompt combine: sum, paper, ood, prompt.")
    ] = "sum",
    false_alarm_rate: Annotated[
        float, typer.Option(help="Fraction of normal clips allowed above the threshold.")
    ] = 0.01,
    false_alarms_per_hour: Annotated[
        float, typer.Option(help="For footage: alarms per hour of normal video allowed (sets the threshold).")
    ] = 1.0,
    window_length: WindowLength = DEFAULT_LENGTH_S,
    window_stride: WindowStride = DEFAULT_STRIDE_S,
    input_size: InputSize = 256,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Fit a detector on normal clips or normal videos (no training: feature statistics only).

    Videos (and folders of them) are run through pose estimation and tracking, cut into
    windows, and the threshold is set at --false-alarms-per-hour on that footage.
    """
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.footage import expand_videos, extract, false_alarm_rate_per_hour, is_video
    from skelprompt.timeline import normal_windows

    videos = [p for p in expand_videos(normal) if is_video(p)]
    others = [p for p in normal if not is_video(p) and not (Path(p).is_dir() and not _has_clip_files(p))]
    clips = read_clip_inputs(others, trust_pickle, layout) if others else []
    footage = [extract(v, input_size) for v in videos]
    if footage:
        clips += normal_windows(footage, window_length, window_stride)
        false_alarm_rate = false_alarm_rate_per_hour(false_alarms_per_hour, window_stride)
    try:
        cfg = DetectorConfig(
            ood=ood, k=k, ood_features=ood_features, symmetric=symmetric, combine=combine,
            prompt_weight=prompt_weight, normal_weight=normal_weight, false_alarm_rate=false_alarm_rate,
        )  # fmt: skip
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    det = Detector(choose_model(model, untrained), cfg)
    det.fit(clips, progress=True)
    det.info["normal_sources"] = sorted({c.source or "" for c in clips})[:50]
    if footage:
        seconds = sum(c.num_frames / (c.fps or 25.0) for c in footage)
        det.info.update(
            window_length_s=window_length, window_stride_s=window_stride, pose_input_size=input_size,
            normal_footage_s=round(seconds, 1), false_alarms_per_hour=false_alarms_per_hour,
        )  # fmt: skip
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
    render: Annotated[
        Path | None, typer.Option(help="Video input: write the video with scores drawn (.mp4).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Video input: write the score over time (.png).")] = None,
    window_length: Annotated[
        float | None, typer.Option(help="Window length in seconds (default: the detector's).")
    ] = None,
    window_stride: Annotated[
        float | None, typer.Option(help="Window stride in seconds (default: the detector's).")
    ] = None,
    input_size: Annotated[
        int | None, typer.Option(help="Pose model input size (default: the detector's).")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            help="Score a file as if it were a camera (paced to its frame rate); webcams and URLs are always live."
        ),
    ] = False,
    jsonl: Annotated[
        Path | None, typer.Option(help="Live input: append one JSON line per window here.")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="Live input: stop after this many frames.")] = None,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Score clips, videos or a live stream: OoD, prompt and anomaly scores with the threshold.

    Clip files give one ranked row per clip. A video gives windows (when) and tracked
    persons (who); a webcam index, URL or --live file is scored as it plays, alerts printed.
    """
    from skelprompt.detector import Detector
    from skelprompt.footage import is_stream, is_video
    from skelprompt.model import load_model

    det = Detector.load(detector, expect_model=load_model(model) if model else None)
    length = window_length or det.info.get("window_length_s", DEFAULT_LENGTH_S)
    stride = window_stride or det.info.get("window_stride_s", DEFAULT_STRIDE_S)
    size = input_size or det.info.get("pose_input_size", 256)
    if live or any(is_stream(i) for i in inputs):
        from skelprompt.footage import score_live, stderr_echo

        for src in inputs:
            summary = score_live(
                det, src, prompt, normal_prompt, size, length, stride, jsonl, max_frames,
                realtime=not is_stream(src), echo=stderr_echo,
            )  # fmt: skip
            console.print(summary)
        return
    if any(is_video(i) for i in inputs):
        _score_videos(
            det, inputs, prompt, normal_prompt, length, stride, size, json_out, render, plot, false_alarm_rate
        )
        return
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


def _has_clip_files(folder: str) -> bool:
    from skelprompt.io import CLIP_SUFFIXES

    return any(f.suffix.lower() in CLIP_SUFFIXES for f in Path(folder).rglob("*"))


def _score_videos(
    det, inputs, prompts, normal_prompts, length, stride, size, json_out, render, plot, rate
) -> None:
    from skelprompt.footage import extract, is_video, render_outputs, score_video_clip

    results = []
    for video in inputs:
        if not is_video(video):
            raise typer.BadParameter(f"{video}: give videos or clip files, not both, in one call")
        clip = extract(video, size)
        res = score_video_clip(det, clip, prompts, normal_prompts, length, stride, rate)
        results.append(res)
        table = Table(
            title=f"{video}: {clip.num_frames} frames, {clip.num_persons} tracked people, threshold {res['threshold']:.3f}"
        )
        for col in ("window (s)", "scene", "most anomalous person", "alert"):
            table.add_column(col)
        for w in res["windows"]:
            top_p = w["persons"][0] if w["persons"] else None
            who = f"#{top_p['track_id']} {top_p['anomaly']:.3f}" if top_p else "-"
            scene = f"{w['anomaly']:.3f}" if w["anomaly"] is not None else "-"
            table.add_row(
                f"{w['start_s']:.1f}-{w['end_s']:.1f}",
                scene,
                who,
                "[red]ALERT[/red]" if w["is_anomaly"] else "",
            )
        console.print(table)
        vs = res["video_score"]
        console.print(
            f"video score {vs:.3f}; alert spans: {res['alert_spans'] or 'none'}"
            if vs is not None
            else res.get("note", "")
        )
        if len(inputs) == 1:
            render_outputs(video, clip, res, render, plot)
            for what, path in (("video", render), ("plot", plot)):
                if path:
                    console.print(f"{what} -> [bold]{path}[/bold]")
    if json_out:
        write_json(json_out, {"videos": results} if len(results) > 1 else results[0])
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
