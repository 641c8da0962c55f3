"""The Clip type: every skeleton sequence in skelprompt is one of these.

It follows PySKL's annotation format: ``keypoint [M, T, V, 2]`` (persons, frames, joints,
x/y), ``keypoint_score [M, T, V]`` (confidence in [0, 1]; 0 = missing), ``img_shape (h, w)``
when the coordinates are image pixels. Coordinates are x to the right and y down. When
there is no image (mocap, Kinect metres projected to a plane, pre-normalised data),
``img_shape`` is ``None`` and coordinates are in any consistent unit: the point encoder
normalises by body size, not by the image (see ``points.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from skelprompt.errors import ClipError, LayoutError, SkelpromptError, in_file
from skelprompt.layouts import CANONICAL, get_layout

# Sane ranges of a clip's scalar fields; values outside are file errors, not data.
MAX_FPS = 10_000.0
MAX_IMAGE_SIDE = 1_000_000
MAX_FRAME = 2**53  # start_frame: exact as a float, far beyond any recording


def _whole(value: Any) -> bool:
    """An integer, or a float with an integer value (never a bool or a string)."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer()


def image_shape(value: Any, where: object, error: type[SkelpromptError] = ClipError) -> tuple[int, int]:
    """``(height, width)`` as two positive ints; anything else is an error naming ``where``."""
    if (
        not isinstance(value, list | tuple | np.ndarray)
        or len(value) != 2
        or not all(_whole(v) and 0 < v <= MAX_IMAGE_SIDE for v in value)
    ):
        raise error(
            in_file(
                where,
                f"img_shape must be (height, width), two integers in 1..{MAX_IMAGE_SIDE}, got {value!r}",
            )
        )
    return int(value[0]), int(value[1])


@dataclass
class Clip:
    """One skeleton clip: M persons x T frames x V joints of one layout."""

    keypoint: np.ndarray
    keypoint_score: np.ndarray
    layout: str
    fps: float | None = None
    img_shape: tuple[int, int] | None = None
    label: str | None = None
    source: str | None = None
    frame_dir: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    track_ids: np.ndarray | None = None  # [M] integer ids when persons were tracked
    start_frame: int = 0  # index of frame 0 of this clip in its source timeline
    keypoint3d: np.ndarray | None = (
        None  # [M, T, V, 3] camera metres (x right, y up, z depth), 3D sources only
    )

    @property
    def num_persons(self) -> int:
        return int(self.keypoint.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.keypoint.shape[1])

    @property
    def num_joints(self) -> int:
        return int(self.keypoint.shape[2])

    @property
    def name(self) -> str:
        """A human-readable identifier: the source file and, when set, the clip's frame_dir."""
        if self.source and self.frame_dir:
            return f"{self.source}::{self.frame_dir}"
        return self.source or self.frame_dir or "<clip>"

    def validate(self) -> Clip:
        """Check shapes and values; return ``self``. Raise :class:`ClipError` naming the clip."""
        where = self.name
        try:
            lay = get_layout(self.layout)
        except LayoutError as e:
            raise LayoutError(in_file(where, str(e))) from None
        try:
            kp = np.asarray(self.keypoint)
            sc = np.asarray(self.keypoint_score)
        except (ValueError, TypeError):
            raise ClipError(
                in_file(where, "keypoint and keypoint_score must be rectangular arrays")
            ) from None
        if kp.dtype.kind not in "iuf" or sc.dtype.kind not in "iuf":
            raise ClipError(
                in_file(
                    where,
                    f"keypoint and keypoint_score must be real numeric arrays, got {kp.dtype} and {sc.dtype}",
                )
            )
        if kp.ndim != 4 or kp.shape[-1] != 2:
            raise ClipError(in_file(where, f"keypoint must have shape [M, T, V, 2], got {kp.shape}"))
        if sc.shape != kp.shape[:3]:
            raise ClipError(
                in_file(where, f"keypoint_score shape {sc.shape} does not match keypoint {kp.shape[:3]}")
            )
        if kp.shape[2] != lay.num_joints:
            raise ClipError(
                in_file(where, f"layout {lay.name!r} has {lay.num_joints} joints, the clip has {kp.shape[2]}")
            )
        if kp.shape[0] == 0 or kp.shape[1] == 0:
            raise ClipError(in_file(where, f"empty clip ({kp.shape[0]} persons, {kp.shape[1]} frames)"))
        if not np.all(np.isfinite(sc)):
            raise ClipError(in_file(where, "keypoint_score holds NaN or infinite values"))
        if sc.min() < 0 or sc.max() > 1.0 + 1e-6:
            raise ClipError(
                in_file(where, f"keypoint_score must lie in [0, 1], found [{sc.min():.3g}, {sc.max():.3g}]")
            )
        bad = ~np.isfinite(kp).all(-1) & (sc > 0)
        if bad.any():
            m, t, v = np.argwhere(bad)[0]
            raise ClipError(
                in_file(
                    where,
                    f"{int(bad.sum())} joints with nonzero confidence have NaN or infinite "
                    f"coordinates (first: person {m}, frame {t}, joint {lay.joints[v]})",
                )
            )
        if not (sc > 0).any():
            raise ClipError(in_file(where, "all joints are missing (every keypoint_score is 0)"))
        if self.img_shape is not None:
            image_shape(self.img_shape, where)
        self._validate_fields(where, kp.shape[:3])
        return self

    def _validate_fields(self, where: str, mtv: tuple[int, ...]) -> None:
        """The scalar fields and the optional per-person arrays."""
        if self.fps is not None and not (
            not isinstance(self.fps, bool | np.bool_)
            and isinstance(self.fps, int | float | np.integer | np.floating)
            and 0 < self.fps <= MAX_FPS
        ):
            raise ClipError(
                in_file(where, f"fps must be a number in (0, {MAX_FPS:g}] or None, got {self.fps!r}")
            )
        if not (_whole(self.start_frame) and 0 <= self.start_frame <= MAX_FRAME):
            raise ClipError(in_file(where, f"start_frame must be an integer >= 0, got {self.start_frame!r}"))
        if not isinstance(self.meta, dict):
            raise ClipError(in_file(where, f"meta must be a dict, got {type(self.meta).__name__}"))
        m, t, v = mtv
        if self.track_ids is not None:
            ids = np.asarray(self.track_ids)
            if ids.dtype.kind not in "iu" or ids.shape != (m,):
                raise ClipError(
                    in_file(
                        where, f"track_ids must be {m} integers (one a person), got {ids.dtype} {ids.shape}"
                    )
                )
        if self.keypoint3d is not None:
            k3 = np.asarray(self.keypoint3d)
            if k3.dtype.kind not in "iuf" or k3.shape != (m, t, v, 3):
                raise ClipError(
                    in_file(
                        where,
                        f"keypoint3d must be a real array of shape {(m, t, v, 3)}, got {k3.dtype} {k3.shape}",
                    )
                )

    @classmethod
    def create(
        cls,
        keypoint: np.ndarray,
        keypoint_score: np.ndarray | None = None,
        layout: str = "coco17",
        **kwargs: Any,
    ) -> Clip:
        """Build a validated clip; missing joints get zero coordinates and score 0.

        ``keypoint`` may be [T, V, 2] (one person) or [M, T, V, 2]; a score of ``None`` means
        every finite joint is present with confidence 1.
        """
        kp = np.asarray(keypoint, dtype=np.float32)
        if kp.ndim == 3:
            kp = kp[None]
        sc: np.ndarray
        if keypoint_score is None:
            sc = (
                np.asarray(np.isfinite(kp).all(-1), np.float32)
                if kp.ndim == 4
                else np.ones(kp.shape[:-1], np.float32)
            )
        else:
            sc = np.asarray(keypoint_score, dtype=np.float32)
            if sc.ndim == 2:
                sc = sc[None]
        clip = cls(keypoint=kp, keypoint_score=sc.astype(np.float32), layout=layout, **kwargs)
        clip.validate()
        missing = clip.keypoint_score <= 0
        clip.keypoint = np.where(missing[..., None], 0.0, np.nan_to_num(kp)).astype(np.float32)
        return clip

    def to_canonical(self) -> Clip:
        """The same clip with its joints reordered onto the canonical 13-joint vocabulary."""
        lay = get_layout(self.layout)
        idx = list(lay.canonical_index)
        return replace(
            self,
            keypoint=self.keypoint[:, :, idx],
            keypoint_score=self.keypoint_score[:, :, idx],
            keypoint3d=None if self.keypoint3d is None else self.keypoint3d[:, :, idx],
            layout=CANONICAL,
            meta=dict(self.meta),
        )

    def frames(self, start: int, stop: int) -> Clip:
        """A sub-clip of frames [start, stop)."""
        return replace(
            self,
            keypoint=self.keypoint[:, start:stop],
            keypoint_score=self.keypoint_score[:, start:stop],
            keypoint3d=None if self.keypoint3d is None else self.keypoint3d[:, start:stop],
            start_frame=self.start_frame + start,
            meta=dict(self.meta),
        )

    def persons(self, index: list[int] | np.ndarray) -> Clip:
        """A clip holding only the given persons."""
        index = np.asarray(index, dtype=int)
        return replace(
            self,
            keypoint=self.keypoint[index],
            keypoint_score=self.keypoint_score[index],
            keypoint3d=None if self.keypoint3d is None else self.keypoint3d[index],
            track_ids=None if self.track_ids is None else self.track_ids[index],
            meta=dict(self.meta),
        )

    def mirrored(self) -> Clip:
        """The clip mirrored left/right: x -> 2c - x about its mean x, left/right joints swapped."""
        flip = list(get_layout(self.layout).flip_index)
        ok = self.keypoint_score > 0
        cx = float(self.keypoint[..., 0][ok].mean()) if ok.any() else 0.0
        kp = np.array(self.keypoint[:, :, flip], copy=True)
        sc = np.array(self.keypoint_score[:, :, flip], copy=True)
        kp[..., 0] = np.where(sc > 0, 2 * cx - kp[..., 0], 0.0)
        return replace(self, keypoint=kp, keypoint_score=sc, keypoint3d=None, meta=dict(self.meta))

    def missing_fraction(self) -> float:
        return float((self.keypoint_score <= 0).mean())
