"""An archive run: the videos not yet in the JSONL scored on local workers or Ray, each
written as it finishes, then the merged JSON."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from skelprompt.archive.job import ScoreJob
from skelprompt.archive.local import run_local, threads_per_worker
from skelprompt.archive.output import Entry, JsonlLog, is_error, merged_json, video_key
from skelprompt.io.atomic import write_text_atomic

log = logging.getLogger(__name__)


@dataclass
class ArchiveSummary:
    videos: int  # given
    skipped: int  # already scored in the JSONL
    scored: int
    failed: int
    seconds: float
    entries: list[Entry]  # every video given, in input order (those that have an entry)


def _echo_line(line: str) -> None:
    log.info(line)


def score_archive(
    job: ScoreJob,
    head: dict[str, Any],
    videos: list[str],
    workers: int = 1,
    ray_address: str | None = None,
    retries: int = 2,
    jsonl: Path | None = None,
    json_out: Path | None = None,
    echo: Callable[[str], None] = _echo_line,
) -> ArchiveSummary:
    """Score ``videos`` (``workers`` local processes, or Ray tasks at ``ray_address``); a
    worker that dies has its video tried again up to ``retries`` more times. ``head`` is
    :func:`~skelprompt.footage.results.result_head`'s, written first in both outputs."""
    start = time.perf_counter()
    jsonl_head = {**head, "prompts": list(job.prompts), "normal_prompts": list(job.normal_prompts),
                  "false_alarm_rate": job.false_alarm_rate, "footage": asdict(job.settings)}  # fmt: skip
    log = JsonlLog(jsonl, jsonl_head) if jsonl else None
    entries: dict[str, Entry] = {}
    if log is not None:
        entries = {video_key(v): log.done[video_key(v)] for v in videos if video_key(v) in log.done}
        entries = {k: e for k, e in entries.items() if not is_error(e)}  # failures are tried again
    todo = [v for v in videos if video_key(v) not in entries]
    skipped, counts = len(videos) - len(todo), {"scored": 0, "failed": 0}

    def on_done(video: str, entry: Entry) -> None:
        entries[video_key(video)] = entry
        counts["failed" if is_error(entry) else "scored"] += 1
        if log is not None:
            log.append(entry)
        echo(f"[{skipped + counts['scored'] + counts['failed']}/{len(videos)}] {_describe(video, entry)}")

    try:
        _run(job, todo, workers, ray_address, retries, on_done)
    finally:
        if log is not None:
            log.close()
    if json_out is not None:
        text = json.dumps(merged_json(jsonl_head, videos, entries), indent=2, allow_nan=False)
        write_text_atomic(json_out, text + "\n")
    ordered = [entries[video_key(v)] for v in videos if video_key(v) in entries]
    seconds = time.perf_counter() - start
    return ArchiveSummary(len(videos), skipped, counts["scored"], counts["failed"], seconds, ordered)


def _run(
    job: ScoreJob,
    todo: list[str],
    workers: int,
    ray_address: str | None,
    retries: int,
    on_done: Callable[[str, Entry], None],
) -> None:
    if not todo:
        return
    # workers get absolute paths (a Ray worker runs in another folder); entries keep the path as given
    given = {str(Path(v).absolute()): v for v in todo}
    todo = list(given)

    def as_given(video: str, entry: Entry) -> None:
        on_done(given[video], {**entry, "source": given[video]})

    if ray_address is None:
        job = replace(job, threads=job.threads or threads_per_worker(workers))
        run_local(job, todo, workers, retries, as_given)
        return
    from skelprompt.archive import cluster

    started = cluster.connect(ray_address, workers)
    try:
        # a Ray task holds one CPU: one thread each, as Ray sets for its workers
        cluster.run_ray(replace(job, threads=1), todo, retries, as_given)
    finally:
        if started:
            cluster.disconnect()


def _describe(video: str, entry: Entry) -> str:
    if is_error(entry):
        return f"{video}: error: {entry['error']}"
    score = entry.get("video_score")
    spans = len(entry.get("alert_spans") or [])
    return f"{video}: " + (
        f"video score {score:.3f}, {spans} alert span(s)" if score is not None else "no scores"
    )
