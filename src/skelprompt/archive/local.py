"""Local worker processes, each scoring one video at a time.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its processes dies, the
whole pool breaks and every pending video fails with it, and it cannot say which video the
dead process held. Here each worker has its own pipe, so the parent knows the video a dead
worker was scoring, retries that one video on a fresh worker, and lets the others go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from skelprompt.archive.job import ScoreJob, error_entry, load_job, score_entry

Entry = dict[str, Any]
OnDone = Callable[[str, Entry], None]
_CONTEXT = mp.get_context("spawn")  # no fork: torch and the pose runtime hold threads


def threads_per_worker(workers: int) -> int:
    """The cores shared out among ``workers`` processes (at least one thread each)."""
    return max(1, (os.cpu_count() or 1) // workers)


def _worker_main(job: ScoreJob, conn: Connection) -> None:
    """A worker: load once, then score each video the parent sends until it sends None."""
    try:
        load_job(job)
        failure = None
    except Exception as e:  # noqa: BLE001 - each video then says why, instead of the worker dying
        failure = f"the worker could not load the detector or the pose model: {e}"
    while (video := conn.recv()) is not None:
        conn.send(error_entry(video, failure) if failure else score_entry(job, video))


@dataclass
class _Worker:
    process: Any  # a SpawnProcess
    conn: Connection
    video: str | None = None  # the video it is scoring


def _start(job: ScoreJob) -> _Worker:
    parent, child = _CONTEXT.Pipe()
    process = _CONTEXT.Process(target=_worker_main, args=(job, child), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def run_local(job: ScoreJob, videos: list[str], workers: int, retries: int, on_done: OnDone) -> None:
    """Score ``videos`` on ``workers`` processes, calling ``on_done(video, entry)`` in the
    parent as each finishes. A video whose worker dies is tried again, at most ``retries``
    more times, then gets an error entry."""
    pending = deque(videos)
    deaths: dict[str, int] = {}
    pool = [_start(job) for _ in range(min(workers, len(videos)))]
    try:
        while pending or any(w.video for w in pool):
            for w in pool:
                if w.video is None and pending:
                    w.video = pending.popleft()
                    try:
                        w.conn.send(w.video)
                    except OSError:  # it died already: seen below as a death while on this video
                        pass
            busy = [w for w in pool if w.video]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for w in busy:
                video = w.video
                if video is None or (w.conn not in ready and w.process.sentinel not in ready):
                    continue
                entry = _receive(w)
                if entry is not None:
                    on_done(video, entry)
                    w.video = None
                    continue
                _retry_or_fail(video, deaths, retries, pending, on_done)
                w.process.join()
                pool.remove(w)
                if pending and len(pool) < workers:  # a fresh worker in place of the dead one
                    pool.append(_start(job))
    finally:
        _stop(pool)


def _receive(w: _Worker) -> Entry | None:
    """The worker's entry, or None when it died (its pipe closed without one)."""
    try:
        if w.conn.poll():
            entry: Entry = w.conn.recv()
            return entry
    except (EOFError, OSError):
        pass
    return None


def _retry_or_fail(
    video: str, deaths: dict[str, int], retries: int, pending: deque[str], on_done: OnDone
) -> None:
    deaths[video] = deaths.get(video, 0) + 1
    if deaths[video] <= retries:
        pending.appendleft(video)
    else:
        on_done(video, error_entry(video, "its worker process died on every try", deaths[video]))


def _stop(pool: list[_Worker]) -> None:
    for w in pool:
        try:
            w.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
    for w in pool:
        w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.terminate()
            w.process.join()
        w.conn.close()
