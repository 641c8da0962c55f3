"""`skelprompt score --workers N` / `--ray ADDRESS`: many videos at once, on local worker
processes or a Ray cluster, into one JSON and/or a resumable JSONL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from skelprompt.commands.score_request import READ_SUFFIXES, ScoreRequest
from skelprompt.errors import SkelpromptError

RETRIES = 2  # a video whose worker dies is tried this many more times

JsonlOut = Annotated[
    Path | None,
    typer.Option(
        help="Live input: append one JSON line per window here. --workers/--ray: one line per "
        "video as it finishes; rerun with the same file to skip the videos already in it."
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        help="Score videos on N local worker processes (one video each at a time; cores shared "
        "among them). Inputs may then be folders of videos and @LIST files (one path a line).",
        min=1,
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray",
        help="Score videos as Ray tasks: 'local' (a cluster on this machine, --workers CPUs), "
        "'auto' (the one `ray start` runs) or HOST:PORT. Needs Ray (skelprompt's 'cluster' extra).",
        metavar="ADDRESS",
    ),
]
Retries = Annotated[int, typer.Option(help="--workers/--ray: tries again a video whose worker died.", min=0)]


def is_archive_run(inputs: list[str], workers: int | None, ray: str | None) -> bool:
    """Whether `score` runs as an archive: --workers, --ray or an @LIST input."""
    return workers is not None or ray is not None or any(i.startswith("@") for i in inputs)


def score_archive_mode(
    request: ScoreRequest,
    json_out: Path | None,
    jsonl: Path | None,
    workers: int | None,
    ray: str | None,
    retries: int,
    refused: Mapping[str, object],
) -> int:
    """Run the archive and print its summary; returns the exit code: 1 when a video failed.
    ``refused``: the options given that an archive does not take."""
    from skelprompt.archive import ScoreJob, archive_videos, score_archive
    from skelprompt.commands.common import Output, check_outputs
    from skelprompt.footage.results import result_head

    for option, value in refused.items():
        if value:
            raise SkelpromptError(f"{option} is for one video scored without --workers, --ray or @LIST")
    videos = archive_videos(request.inputs)
    lists = [i[1:] for i in request.inputs if i.startswith("@")]
    check_outputs(
        [Output("--json", json_out), Output("--jsonl", jsonl)],
        [*videos, *lists, request.detector, request.model],
        read_suffixes=READ_SUFFIXES,
    )
    det = request.load_detector()
    job = ScoreJob(
        str(request.detector.absolute()),
        request.settings(det),
        tuple(request.prompts or ()),
        tuple(request.normal_prompts or ()),
        request.false_alarm_rate,
    )
    summary = score_archive(
        job, result_head(det, request.detector), videos, workers or 1, ray, retries, jsonl, json_out
    )
    typer.echo(
        f"{summary.videos} videos: {summary.scored} scored, {summary.failed} failed, "
        f"{summary.skipped} skipped (already scored in --jsonl), {summary.seconds:.1f} s"
    )
    for out in (jsonl, json_out):
        if out is not None:
            typer.echo(f"scores -> {out}")
    return 1 if summary.failed else 0
