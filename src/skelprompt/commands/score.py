"""`skelprompt score`: clip files, videos or a live stream through a fitted detector."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from skelprompt.commands.common import read_clip_inputs, write_json
from skelprompt.commands.options import Layout, TrustPickle

if TYPE_CHECKING:
    from skelprompt.detector import Detector
    from skelprompt.footage import FootageSettings

console = Console()


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
    pose_backend: Annotated[
        str | None, typer.Option(help="Pose estimator, e.g. movenet (default: the detector's).")
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
    from skelprompt.commands.tables import clip_table
    from skelprompt.detector import Detector
    from skelprompt.footage import FootageSettings, is_stream, is_video, score_clips, to_json
    from skelprompt.model import load_model

    det = Detector.load(detector, expect_model=load_model(model) if model else None)
    settings = FootageSettings.of_detector(det.info, window_length, window_stride, input_size, pose_backend)
    if live or any(is_stream(i) for i in inputs):
        _score_live(det, inputs, settings, prompt, normal_prompt, jsonl, max_frames)
        return
    if any(is_video(i) for i in inputs):
        _score_videos(
            det, detector, inputs, settings, prompt, normal_prompt, false_alarm_rate, json_out, render, plot
        )
        return
    clips = read_clip_inputs(inputs, trust_pickle, layout)
    result = score_clips(det, clips, prompt, normal_prompt, false_alarm_rate)
    console.print(clip_table(result, top))
    if json_out:
        write_json(json_out, to_json(result, det, detector))
        console.print(f"scores -> [bold]{json_out}[/bold]")


def _score_live(
    det: Detector,
    sources: list[str],
    settings: FootageSettings,
    prompts: list[str] | None,
    normal_prompts: list[str] | None,
    jsonl: Path | None,
    max_frames: int | None,
) -> None:
    from skelprompt.footage import is_stream, score_live
    from skelprompt.footage.live import stderr_echo

    for src in sources:
        s = score_live(
            det, src, settings, prompts, normal_prompts, jsonl, max_frames,
            realtime=not is_stream(src), echo=stderr_echo,
        )  # fmt: skip
        console.print(
            f"{s.source}: {s.windows} windows, {s.alerts} alerts, {s.dropped_frames} dropped frames, {s.seconds} s"
        )


def _score_videos(
    det: Detector,
    detector_path: Path,
    videos: list[str],
    settings: FootageSettings,
    prompts: list[str] | None,
    normal_prompts: list[str] | None,
    false_alarm_rate: float | None,
    json_out: Path | None,
    render: Path | None,
    plot: Path | None,
) -> None:
    from skelprompt.commands.tables import alert_span_table, window_table
    from skelprompt.footage import is_video, score_video, to_json

    other = next((v for v in videos if not is_video(v)), None)
    if other is not None:
        raise typer.BadParameter(f"{other}: give videos or clip files, not both, in one call")
    one = len(videos) == 1  # pictures for a single video only
    results = []
    for video in videos:
        res = score_video(
            det, video, settings, prompts, normal_prompts, false_alarm_rate,
            render if one else None, plot if one else None,
        )  # fmt: skip
        results.append(res)
        console.print(window_table(video, res))
        if res.video_score is None:
            console.print(res.note or "")
        else:
            console.print(f"video score {res.video_score:.3f}")
            console.print(alert_span_table(res.alert_spans) if res.alert_spans else "no alert spans")
        for what, path in (("video", render), ("plot", plot)):
            if one and path:
                console.print(f"{what} -> [bold]{path}[/bold]")
    if json_out:
        write_json(json_out, to_json(results if len(results) > 1 else results[0], det, detector_path))
        console.print(f"scores -> [bold]{json_out}[/bold]")


def register(app: typer.Typer) -> None:
    app.command()(score)
