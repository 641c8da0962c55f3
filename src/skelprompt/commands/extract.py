"""`skelprompt extract`: video -> tracked skeleton clip file (.npz)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from skelprompt.footage.sources import DEFAULT_POSE_INPUT_SIZE

console = Console(stderr=True)


def extract(
    video: Annotated[str, typer.Argument(help="Video file, webcam index (0) or stream URL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the clip (.npz).")],
    input_size: Annotated[
        int, typer.Option(help="Pose model input size (multiple of 32): 256 fast, 512 finds small people.")
    ] = DEFAULT_POSE_INPUT_SIZE,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    min_person_score: Annotated[float, typer.Option(help="Drop detections scored below this.")] = 0.2,
    min_track_frames: Annotated[int, typer.Option(help="Drop tracks seen in fewer frames than this.")] = 3,
    max_age: Annotated[int, typer.Option(help="Frames a lost person is remembered before a new id.")] = 10,
    render: Annotated[
        Path | None, typer.Option(help="Also write the video with the skeletons drawn on it (.mp4).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Estimate and track the people in a video (MoveNet MultiPose) and save a COCO-17 clip."""
    from skelprompt.io import save_clips
    from skelprompt.video.extract import extract_clip
    from skelprompt.video.pose import MoveNetMultiPose
    from skelprompt.video.tracking import Tracker

    if max_frames is not None and max_frames < 1:
        raise typer.BadParameter("--max-frames must be >= 1")
    if out.suffix.lower() != ".npz":
        raise typer.BadParameter(f"--out must end in .npz, got {out}")
    backend = MoveNetMultiPose(input_size=input_size, min_person_score=min_person_score)
    clip = extract_clip(
        video,
        backend,
        max_frames=max_frames,
        progress=not quiet,
        tracker=Tracker(max_age=max_age),
        min_track_frames=min_track_frames,
    )
    save_clips(out, [clip])
    console.print(
        f"{clip.num_frames} frames, {clip.num_persons} tracked people "
        f"({clip.img_shape[1]}x{clip.img_shape[0]}, {clip.fps or '?'} fps) -> [bold]{out}[/bold]"
    )
    if render is not None:
        from skelprompt.video.render import render_video

        render_video(video, clip, render, progress=not quiet)
        console.print(f"rendered -> [bold]{render}[/bold]")


def register(app: typer.Typer) -> None:
    app.command()(extract)
