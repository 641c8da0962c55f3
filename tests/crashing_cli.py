"""`python -m tests.crashing_cli ARGS`: the `skelprompt` command line whose archive workers
exit at once (as a killed process would) when about to score the video named in CRASH_ENV,
the first time only: the worker records that in the marker file named in CRASH_MARKER_ENV, so
the retry succeeds. Test-only: the shipped workers know nothing of it.

Workers are spawned processes; spawn runs this module again in each (as ``__mp_main__``),
so the patch below is in place in every worker, and ``main()`` runs in the parent only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import skelprompt.archive.local as local
from skelprompt.archive.job import ScoreJob
from skelprompt.cli import main

CRASH_ENV = "SKELPROMPT_TEST_CRASH_ON"
CRASH_MARKER_ENV = "SKELPROMPT_TEST_CRASH_MARKER"
_score_entry = local.score_entry


def _crash_once_then_score(job: ScoreJob, video: str) -> dict[str, Any]:
    name, marker = os.environ.get(CRASH_ENV), os.environ.get(CRASH_MARKER_ENV)
    if name and marker and Path(video).name == name and not Path(marker).exists():
        Path(marker).write_text(video)
        os._exit(3)
    return _score_entry(job, video)


local.score_entry = _crash_once_then_score

if __name__ == "__main__":
    main()
