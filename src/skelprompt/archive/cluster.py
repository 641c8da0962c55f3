"""Videos spread over a Ray cluster: one Ray task per video.

Ray retries a task whose worker process dies (``max_retries``); a worker process keeps the
detector it loaded for its next tasks (see :mod:`skelprompt.archive.job`). Videos and the
detector are read by path, so on a cluster of several machines they must lie on storage
every node reads, with skelprompt installed on every node. Install with
``pip install "skelprompt[cluster]"``.
"""

from __future__ import annotations

import os
from typing import Any

from skelprompt.archive.job import ScoreJob, error_entry, score_entry
from skelprompt.archive.local import OnDone
from skelprompt.errors import SkelpromptError

LOCAL = "local"  # `--ray local`: start a Ray cluster on this machine for this run


def _ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network at run time
    try:
        import ray
    except ImportError:
        raise SkelpromptError('--ray needs Ray: pip install "skelprompt[cluster]"') from None
    return ray


def connect(address: str, workers: int | None) -> bool:
    """Join the cluster at ``address`` ("auto": the one `ray start` runs here; "local": a new
    one on this machine with ``workers`` CPUs). Returns whether this call started Ray (and
    so should shut it down). A Ray already initialised in this process is used as it is."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address == LOCAL:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    else:
        if address != "auto":  # Ray >= 2.60 runs local clusters with token auth, and an
            os.environ.setdefault("RAY_AUTH_MODE", "token")  # explicit address skips the token
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as e:
            raise SkelpromptError(f"--ray {address}: no Ray cluster there ({e})") from None
    return True


def _score_task(job: ScoreJob, video: str) -> dict[str, Any]:
    return score_entry(job, video)


def run_ray(job: ScoreJob, videos: list[str], retries: int, on_done: OnDone) -> None:
    """Score ``videos`` as Ray tasks (Ray must be connected), calling ``on_done`` in the
    driver as each finishes. A video whose worker died more than ``retries`` times gets an
    error entry."""
    ray = _ray()
    task = ray.remote(num_cpus=1, max_retries=retries)(_score_task)
    job_ref = ray.put(job)
    running = {task.remote(job_ref, v): v for v in videos}
    while running:
        (ref,), _ = ray.wait(list(running), num_returns=1)
        video = running.pop(ref)
        try:
            entry = ray.get(ref)
        except ray.exceptions.RayError as e:  # the task's worker died on every try
            entry = error_entry(video, f"its Ray worker died on every try ({type(e).__name__})", retries + 1)
        on_done(video, entry)


def disconnect() -> None:
    _ray().shutdown()
