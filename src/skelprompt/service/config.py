"""What the service is started with: the detector, the cameras, the prompts, where alerts go."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skelprompt.errors import SkelpromptError
from skelprompt.footage.scoring import ALERT_GAP_S

DEFAULT_HOST = "127.0.0.1"  # local only unless the user says otherwise
DEFAULT_PORT = 8000
DEFAULT_POSE_FPS = 5.0  # pose estimation rate per camera; frames in between are skipped, not dropped
DEFAULT_DB = "skelprompt-alerts.sqlite"
DEFAULT_QUEUE_FRAMES = (
    16  # frames waiting for pose per camera (~1 s at 15 fps); the oldest is dropped when full
)
DEFAULT_MARGIN_S = 1.0  # evidence clips start this long before the alert
DEFAULT_POSE_THREADS = 1  # per camera: cameras run side by side, more threads each only contend
MAX_CLIP_S = 20.0  # evidence clips keep at most the last this many seconds of a long alert


@dataclass(frozen=True)
class CameraSpec:
    name: str
    source: str  # webcam index, URL or video file


@dataclass
class ServiceConfig:
    detector: Path
    cameras: list[CameraSpec]
    prompts: list[str] = field(default_factory=list)
    normal_prompts: list[str] = field(default_factory=list)
    db: str = DEFAULT_DB  # a SQLite file path or any SQLAlchemy URL
    evidence_dir: Path | None = None  # default: beside a SQLite file, else ./skelprompt-evidence
    token: str = ""  # required (Bearer) on every request that changes something
    webhook: str | None = None
    pose_fps: float = DEFAULT_POSE_FPS
    pose_input: int | None = None  # default: the detector's
    loop: bool = False  # files start again at their end
    alarms_per_hour: float | None = None  # default: the detector's
    queue_frames: int = DEFAULT_QUEUE_FRAMES
    pose_threads: int = DEFAULT_POSE_THREADS
    margin_s: float = DEFAULT_MARGIN_S
    alert_gap_s: float = ALERT_GAP_S  # the rule of `skelprompt score`'s alert spans
    learned_prompt: Path | None = None  # prompts embedded after its context (`prompts learn`)

    def db_url(self) -> str:
        return self.db if "://" in self.db else f"sqlite:///{Path(self.db).absolute()}"

    def evidence_folder(self) -> Path:
        if self.evidence_dir is not None:
            return self.evidence_dir
        if "://" not in self.db:
            db = Path(self.db).absolute()
            return db.with_name(db.name + "-evidence")
        return Path("skelprompt-evidence").absolute()


def parse_camera(text: str) -> CameraSpec:
    """``NAME=SOURCE`` -> a :class:`CameraSpec` (names: letters, digits, ``-`` and ``_``)."""
    name, sep, source = text.partition("=")
    if not sep or not name or not source:
        raise SkelpromptError(f"--camera {text!r}: give NAME=SOURCE (a webcam index, URL or video file)")
    if not all(c.isalnum() or c in "-_" for c in name):
        raise SkelpromptError(f"--camera {text!r}: the name may hold only letters, digits, - and _")
    return CameraSpec(name, source)
