"""Shared helpers for the data set readers: checked file access and 3D -> Clip conversion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError, SkelpromptError, in_file
from skelprompt.io.npz_members import inspect_npz
from skelprompt.project3d import project_pinhole


def fail(path: object, message: str) -> FileFormatError:
    return FileFormatError(in_file(path, message))


def dataset_dir(data_root: str | Path, folder: str) -> Path:
    """``data_root / folder``, or an error that says where it looked."""
    d = Path(data_root) / folder
    if not d.is_dir():
        raise SkelpromptError(
            f"data set folder {d} not found (looked under data root {Path(data_root)}); "
            "skelprompt does not ship data sets: download it yourself and point --data-root "
            "(or SKELPROMPT_DATA_ROOT) at the folder that holds it"
        )
    return d


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise fail(path, "file not found")
    return path


def read_text(path: Path, encoding: str | None = None) -> str:
    """The text of ``path``; unreadable files and bad encodings are one clear error."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise fail(path, "file not found") from None
    except OSError as e:
        raise fail(path, f"cannot read ({e})") from None
    except UnicodeDecodeError as e:
        raise fail(path, f"not a text file ({e.reason} at byte {e.start})") from None


def load_npz(
    path: Path, keys: dict[str, int | None], text: tuple[str, ...] = (), floats: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Read the arrays ``keys`` (name -> required ndim or None) from an npz without pickles.

    Arrays named in ``text`` must hold text, those in ``floats`` real numbers, the others
    (offsets, labels, counts) integers or booleans. Shapes and dtypes are checked from the
    ``.npy`` headers before any array is read.
    """
    require_file(path)
    members = inspect_npz(path)
    missing = [k for k in keys if k not in members]
    if missing:
        raise fail(path, f"missing arrays {missing}; found {sorted(members)}")
    for k, nd in keys.items():
        info = members[k]
        kinds, what = (
            ("US", "text") if k in text else ("iuf", "numbers") if k in floats else ("biu", "integers")
        )
        if info.dtype.kind not in kinds:
            raise fail(path, f"array {k!r} must hold {what}, got dtype {info.dtype}")
        if nd is not None and info.ndim != nd:
            raise fail(path, f"array {k!r} must have {nd} dimensions, got shape {info.shape}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in keys}
    except Exception as e:  # zip errors, CRC errors
        raise fail(path, f"cannot read as .npz ({type(e).__name__}: {e})") from None


def check_offsets(
    path: Path, offsets: np.ndarray, total: int, count: int, start_with_zero: bool = True
) -> None:
    """Offsets [count + 1] (or [count] of starts) must be non-decreasing and within ``total`` frames."""
    o = np.asarray(offsets)
    if o.ndim != 1 or len(o) != count + (1 if start_with_zero else 0):
        raise fail(path, f"offsets has shape {o.shape}, expected ({count + int(start_with_zero)},)")
    if len(o) and (o.min() < 0 or o.max() > total or (start_with_zero and np.any(np.diff(o) < 0))):
        raise fail(path, f"offsets out of range for {total} frames")


def check_shape(path: object, arr: np.ndarray, tail: tuple[int, ...], what: str) -> None:
    if arr.ndim != len(tail) + 1 or tuple(arr.shape[1:]) != tail:
        raise fail(path, f"{what} must have shape [N, {', '.join(map(str, tail))}], got {arr.shape}")


def valid_3d(xyz: np.ndarray) -> np.ndarray:
    """Joints that exist: finite, not all-zero (trackers write zeros for lost joints), z > 0."""
    xyz = np.asarray(xyz)
    return np.isfinite(xyz).all(-1) & ~(xyz == 0).all(-1) & (np.nan_to_num(xyz[..., 2]) > 1e-3)


def clip_from_3d(
    xyz: np.ndarray,
    layout: str,
    score: np.ndarray | None = None,
    **kwargs: Any,
) -> Clip:
    """A clip from camera-space metres ``xyz [M, T, V, 3]`` (x right, y up, z depth).

    ``keypoint3d`` keeps the metres; ``keypoint`` is the pinhole projection. Missing joints
    (see :func:`valid_3d`) get score 0 and zero coordinates in both arrays. A clip with no
    joint at all is still returned (score all 0); callers decide what to do with it.
    """
    xyz = np.asarray(xyz, dtype=np.float32)
    ok = valid_3d(xyz)
    sc = ok.astype(np.float32) if score is None else np.where(ok, score, 0.0).astype(np.float32)
    uv = project_pinhole(np.where(ok[..., None], xyz, np.nan))
    uv = np.where(sc[..., None] > 0, np.nan_to_num(uv), 0.0).astype(np.float32)
    sc = np.where(np.isfinite(uv).all(-1), sc, 0.0).astype(np.float32)
    kp3 = np.where(sc[..., None] > 0, np.nan_to_num(xyz), 0.0).astype(np.float32)
    return Clip(keypoint=uv, keypoint_score=sc, layout=layout, img_shape=None, keypoint3d=kp3, **kwargs)


def clip_from_2d(xy: np.ndarray, layout: str, score: np.ndarray | None = None, **kwargs: Any) -> Clip:
    """A clip from 2D coordinates ``xy [M, T, V, 2]`` (x right, y down); non-finite joints get score 0."""
    xy = np.asarray(xy, dtype=np.float32)
    ok = np.isfinite(xy).all(-1)
    sc = ok.astype(np.float32) if score is None else np.where(ok, np.clip(score, 0, 1), 0.0)
    sc = np.nan_to_num(np.asarray(sc, np.float32))
    kp = np.where(sc[..., None] > 0, np.nan_to_num(xy), 0.0).astype(np.float32)
    return Clip(keypoint=kp, keypoint_score=sc.astype(np.float32), layout=layout, **kwargs)


def kinect_sdk_to_camera(xyz: np.ndarray) -> np.ndarray:
    """Kinect SDK v1 skeleton space (right-handed, x to the sensor's left) -> x right, y up, z depth.

    Subjects facing the sensor have their left shoulder at smaller Kinect x (checked on NW-UCLA and
    UTKinect), so x is negated to give an un-mirrored image under ``u = x / z``.
    """
    out = np.array(xyz, dtype=np.float32, copy=True)
    out[..., 0] *= -1
    return out


def has_joints(clip: Clip) -> bool:
    return bool((clip.keypoint_score > 0).any())
