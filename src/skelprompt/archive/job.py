"""What a worker does with one video: pose, tracking, windows and scores (the same
:func:`~skelprompt.footage.video.score_video` as ``skelprompt score`` on one video), as the JSON
entry that ``skelprompt score --json`` writes for a video. The detector and the pose model are
loaded once per worker process and reused for every video it scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from skelprompt.footage.results import finite_json
from skelprompt.footage.sources import FootageSettings

if TYPE_CHECKING:
    from skelprompt.detector import Detector
    from skelprompt.video.pose import PoseBackend


@dataclass(frozen=True)
class ScoreJob:
    """Everything a worker needs to score videos; small and picklable, sent to each worker."""

    detector: str  # the detector file (on a cluster: a path every node can read)
    settings: FootageSettings = field(default_factory=FootageSettings)
    prompts: tuple[str, ...] = ()
    normal_prompts: tuple[str, ...] = ()
    false_alarm_rate: float | None = None
    threads: int | None = None  # torch and pose threads per worker (None: the libraries' default)


_loaded: dict[ScoreJob, tuple[Detector, PoseBackend]] = {}  # per worker process


def _detector_and_pose(job: ScoreJob) -> tuple[Detector, PoseBackend]:
    if job not in _loaded:
        import torch

        from skelprompt.detector.feedback import load_with_feedback
        from skelprompt.video.pose import get_backend

        if job.threads:
            torch.set_num_threads(job.threads)
        pose = get_backend(
            job.settings.pose_backend, input_size=job.settings.pose_input_size, num_threads=job.threads
        )
        _loaded.clear()  # one job per run: keep one detector in memory, not one per job seen
        _loaded[job] = (load_with_feedback(job.detector), pose)  # as `score` does
    return _loaded[job]


def load_job(job: ScoreJob) -> None:
    """Load the detector and the pose model now (a worker does it before its first video)."""
    _detector_and_pose(job)


def score_entry(job: ScoreJob, video: str) -> dict[str, Any]:
    """The JSON entry of one video: its :class:`~skelprompt.footage.VideoResult` as a dict, or
    ``{"source", "error"}`` when it cannot be scored (unreadable, nobody in it, ...): one bad
    video does not end an archive run."""
    from skelprompt.errors import SkelpromptError
    from skelprompt.footage.video import score_video

    det, pose = _detector_and_pose(job)
    try:
        result = score_video(
            det, video, job.settings, list(job.prompts), list(job.normal_prompts), job.false_alarm_rate,
            backend=pose, progress=False,
        )  # fmt: skip
    except SkelpromptError as e:
        return error_entry(video, str(e))
    except Exception as e:  # noqa: BLE001 - reported in the output, named, not lost in a worker
        return error_entry(video, f"{type(e).__name__}: {e}")
    return finite_json(asdict(result))


def error_entry(video: str, message: str, attempts: int = 1) -> dict[str, Any]:
    """The entry of a video that could not be scored."""
    return {"source": video, "error": message, "attempts": attempts}
