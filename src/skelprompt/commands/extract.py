"""`skelprompt extract`: video -> tracked skeleton clip file (.npz)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from skelprompt.commands.common import Output, check_outputs
from skelprompt.commands.options import pose_input_size, unit_interval
from skelprompt.tracks import DEFAULT_MAX_AGE
from skelprompt.video.pose import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_MIN_PERSON_SCORE,
    DEFAULT_POSE_BACKEND,
    POSE_BACKENDS,
)
from skelprompt.video.track_video import DEFAULT_MIN_TRACK_FRAMES

console = Console(stderr=True)


def extract(
    video: Annotated[str, typer.Argument(help="Video file, webcam index (0) or stream URL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the clip (.npz).")],
    pose_backend: Annotated[
        str, typer.Option(help=f"Pose estimator, one of: {', '.join(sorted(POSE_BACKENDS))}.")
    ] = DEFAULT_POSE_BACKEND,
    input_size: Annotated[
        int,
        typer.Option(
            help="Pose model input size (multiple of 32): 256 fast, 512 finds small people.",
            callback=pose_input_size,
        ),
    ] = DEFAULT_INPUT_SIZE,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.", min=1)] = None,
    min_person_score: Annotated[
        float, typer.Option(help="Drop detections scored below this.", callback=unit_interval)
    ] = DEFAULT_MIN_PERSON_SCORE,
    min_track_frames: Annotated[
        int, typer.Option(help="Drop tracks seen in fewer frames than this.", min=1)
    ] = DEFAULT_MIN_TRACK_FRAMES,
    max_age: Annotated[
        int, typer.Option(help="Frames a lost person is remembered before a new id.", min=0)
    ] = DEFAULT_MAX_AGE,
    render: Annotated[
        Path | None, typer.Option(help="Also write the video with the skeletons drawn on it (.mp4).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Estimate and track the people in a video (MoveNet MultiPose) and save a COCO-17 clip."""
    from skelprompt.io import save_clips
    from skelprompt.tracks import Tracker
    from skelprompt.video.pose import get_backend
    from skelprompt.video.track_video import extract_clip

    check_outputs([Output("--out", out, ".npz"), Output("--render", render, ".mp4")], [video])
    backend = get_backend(pose_backend, input_size=input_size, min_person_score=min_person_score)
    clip = extract_clip(
        video,
        backend,
        max_frames=max_frames,
        progress=not quiet,
        tracker=Tracker(max_age=max_age),
        min_track_frames=min_track_frames,
    )
    save_clips(out, [clip])
    h, w = clip.img_shape or (0, 0)  # a video clip always has its frame size
    console.print(
        f"{clip.num_frames} frames, {clip.num_persons} tracked people "
        f"({w}x{h}, {clip.fps or '?'} fps) -> [bold]{out}[/bold]"
    )
    if render is not None:
        from skelprompt.video.render import render_video

        render_video(video, clip, render, progress=not quiet)
        console.print(f"rendered -> [bold]{render}[/bold]")


def register(app: typer.Typer) -> None:
    app.command()(extract)
