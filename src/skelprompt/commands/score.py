"""`skelprompt score`: clip files, videos or a live stream through a fitted detector."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from skelprompt.commands.common import Output, check_outputs, read_clip_inputs, write_json
from skelprompt.commands.options import (
    AnomalyPrompts,
    DetectorFile,
    Layout,
    NormalPrompts,
    TrustPickle,
    detector_option,
    pose_input_size,
    positive_seconds,
)
from skelprompt.commands.prompts import LearnedPromptFile
from skelprompt.commands.score_archive import (
    RETRIES,
    JsonlOut,
    RayAddress,
    Retries,
    Workers,
    is_archive_run,
    score_archive_mode,
)
from skelprompt.commands.score_request import READ_SUFFIXES, ScoreRequest
from skelprompt.errors import SkelpromptError

console = Console()
INPUTS_HELP = (
    "Clip files (or folders of them), video files, or a live source: webcam index or URL. "
    "With --workers or --ray: video files, folders of videos, @LIST (a file, one path a line)."
)


def score(
    inputs: Annotated[list[str], typer.Argument(help=INPUTS_HELP)],
    detector: DetectorFile,
    prompt: AnomalyPrompts = None,
    normal_prompt: NormalPrompts = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write per-clip scores as JSON here.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Check that the detector was fitted with this model.")
    ] = None,
    false_alarm_rate: Annotated[
        float | None,
        typer.Option(
            help="Override the detector's false-alarm rate.", callback=detector_option("false_alarm_rate")
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows to print (0 = all).", min=0)] = 20,
    render: Annotated[
        Path | None, typer.Option(help="Video input: write the video with scores drawn (.mp4).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Video input: write the score over time (.png).")] = None,
    window_length: Annotated[
        float | None,
        typer.Option(help="Window length in seconds (default: the detector's).", callback=positive_seconds),
    ] = None,
    window_stride: Annotated[
        float | None,
        typer.Option(help="Window stride in seconds (default: the detector's).", callback=positive_seconds),
    ] = None,
    input_size: Annotated[
        int | None,
        typer.Option(help="Pose model input size (default: the detector's).", callback=pose_input_size),
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
    jsonl: JsonlOut = None,
    max_frames: Annotated[
        int | None, typer.Option(help="Live input: stop after this many frames.", min=1)
    ] = None,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
    workers: Workers = None,
    ray: RayAddress = None,
    retries: Retries = RETRIES,
    learned_prompt: LearnedPromptFile = None,
) -> None:
    """Score clips, videos or a live stream: OoD, prompt and anomaly scores with the threshold.

    Clip files give one ranked row per clip. A video gives windows (when) and tracked
    persons (who); a webcam index, URL or --live file is scored as it plays, alerts printed.
    --workers N or --ray score many videos at once (exit code 1 when one could not be scored).
    """
    request = ScoreRequest(
        inputs, detector, model, prompt, normal_prompt, false_alarm_rate,
        window_length, window_stride, input_size, pose_backend, learned_prompt,
    )  # fmt: skip
    if is_archive_run(inputs, workers, ray):
        if learned_prompt is not None:
            raise SkelpromptError("--learned-prompt is not supported with --workers or --ray")
        refused = {"--render": render, "--plot": plot, "--live": live, "--max-frames": max_frames}
        raise typer.Exit(score_archive_mode(request, json_out, jsonl, workers, ray, retries, refused))
    kind = _input_kind(inputs, live)
    _check_before_work(
        kind, inputs, [detector, model, learned_prompt], json_out, render, plot, jsonl, max_frames
    )
    if kind == "live":
        score_live_mode(request, jsonl, max_frames)
    elif kind == "video":
        score_video_mode(request, json_out, render, plot)
    else:
        score_clip_mode(request, json_out, top, trust_pickle, layout)


def score_clip_mode(
    request: ScoreRequest, json_out: Path | None, top: int, trust_pickle: bool, layout: str
) -> None:
    """Clip files: one ranked row per clip."""
    from skelprompt.commands.tables import clip_table
    from skelprompt.footage import score_clips, to_json

    det = request.load_detector()
    clips = read_clip_inputs(request.inputs, trust_pickle, layout)
    result = score_clips(det, clips, request.prompts, request.normal_prompts, request.false_alarm_rate)
    console.print(clip_table(result, top))
    if json_out:
        write_json(json_out, to_json(result, det, request.detector))
        console.print(f"scores -> [bold]{json_out}[/bold]")


# what each kind of input writes: the outputs and limits given for another kind are errors
_OPTIONS_OF_KIND = {
    "clips": ("--json",),
    "video": ("--json", "--render", "--plot"),
    "live": ("--jsonl", "--max-frames"),
}
_KIND_NAMES = {"clips": "clip files", "video": "video files", "live": "live input (streams, --live)"}


def _input_kind(inputs: list[str], live: bool) -> str:
    """'live', 'video' or 'clips': how the inputs are scored. Videos and clip files do not mix."""
    from skelprompt.footage import is_stream, is_video

    if live or any(is_stream(i) for i in inputs):
        return "live"
    videos = [i for i in inputs if is_video(i)]
    if videos and len(videos) < len(inputs):
        other = next(i for i in inputs if not is_video(i))
        raise SkelpromptError(f"{other}: give videos or clip files, not both, in one call")
    return "video" if videos else "clips"


def _check_before_work(
    kind: str,
    inputs: list[str],
    files: list[Path | str | None],
    json_out: Path | None,
    render: Path | None,
    plot: Path | None,
    jsonl: Path | None,
    max_frames: int | None,
) -> None:
    """The options given suit the kind of input, and no output would overwrite an input
    (``inputs`` or the detector and model ``files``)."""
    given = {
        "--json": json_out,
        "--render": render,
        "--plot": plot,
        "--jsonl": jsonl,
        "--max-frames": max_frames,
    }
    _check_options_fit(kind, given)
    if kind == "video" and len(inputs) > 1 and (render or plot):
        raise SkelpromptError("--render and --plot draw one video: give one video with them")
    check_outputs(
        [Output("--json", json_out), Output("--plot", plot, ".png"), Output("--render", render, ".mp4"),
         Output("--jsonl", jsonl)],
        [*inputs, *files], read_suffixes=READ_SUFFIXES,
    )  # fmt: skip


def _check_options_fit(kind: str, given: Mapping[str, object]) -> None:
    """An output or limit that the kind of input does not use is an error, not silently unused."""
    for option, value in given.items():
        if value is not None and option not in _OPTIONS_OF_KIND[kind]:
            users = [_KIND_NAMES[k] for k, opts in _OPTIONS_OF_KIND.items() if option in opts]
            raise SkelpromptError(f"{option} is for {' or '.join(users)}, not for {_KIND_NAMES[kind]}")


def score_live_mode(request: ScoreRequest, jsonl: Path | None, max_frames: int | None) -> None:
    """Webcams, URLs and --live files: scored as they play, alerts printed as they happen."""
    from skelprompt.footage import is_stream, score_live
    from skelprompt.footage.live import stderr_echo

    det = request.load_detector()
    settings = request.settings(det)
    for src in request.inputs:
        s = score_live(
            det, src, settings, request.prompts, request.normal_prompts, jsonl, max_frames,
            realtime=not is_stream(src), echo=stderr_echo, false_alarm_rate=request.false_alarm_rate,
        )  # fmt: skip
        console.print(
            f"{s.source}: {s.windows} windows, {s.alerts} alerts, {s.frames_read} frames read, "
            f"{s.dropped_frames} dropped (scoring fell behind), {s.seconds} s"
        )


def score_video_mode(
    request: ScoreRequest, json_out: Path | None, render: Path | None, plot: Path | None
) -> None:
    """Video files: windows (when) and tracked persons (who), alert spans; pictures for one video."""
    from skelprompt.commands.tables import alert_span_table, window_table
    from skelprompt.footage import score_video, to_json

    det = request.load_detector()
    settings = request.settings(det)
    videos = request.inputs
    one = len(videos) == 1  # pictures for a single video only (score() checks)
    results = []
    for video in videos:
        res = score_video(
            det, video, settings, request.prompts, request.normal_prompts, request.false_alarm_rate,
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
        write_json(json_out, to_json(results if len(results) > 1 else results[0], det, request.detector))
        console.print(f"scores -> [bold]{json_out}[/bold]")


def register(app: typer.Typer) -> None:
    app.command()(score)
