"""PySKL annotation pickles: ``{"split": {...}, "annotations": [dict, ...]}`` or a bare list.

Each annotation holds ``frame_dir``, ``label`` (int), ``img_shape`` and ``original_shape``
``(h, w)``, ``total_frames``, ``keypoint [M, T, V, 2]`` and ``keypoint_score [M, T, V]``.

WARNING: reading a pickle can run arbitrary code hidden in the file. Only open pickles you
trust; the functions here refuse unless called with ``trust_pickle=True``. Even then the file
is read with the restricted unpickler of ``io.safe_pickle`` (plain data and NumPy arrays only),
so a pickle that names any other Python object is refused before it runs. skelprompt's own
format (``io.npz``) is safe to open from anyone.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip, image_shape
from skelprompt.errors import ClipError, FileFormatError
from skelprompt.io.atomic import write_with
from skelprompt.io.fields import describe, is_real, numeric_array
from skelprompt.io.safe_pickle import safe_load

PICKLE_WARNING = (
    "reading a pickle can run code hidden in the file; pass trust_pickle=True "
    "(CLI: --trust-pickle) only for files you trust"
)


def _check_trust(path: Path, trust_pickle: bool) -> None:
    if not trust_pickle:
        raise FileFormatError(f"{path}: {PICKLE_WARNING}")


def read_pyskl_raw(path: str | os.PathLike[str], trust_pickle: bool = False) -> dict[str, Any]:
    """Load the pickle; return ``{"split": dict | None, "annotations": list}``."""
    path = Path(path)
    _check_trust(path, trust_pickle)
    data = safe_load(path)
    if isinstance(data, list):
        data = {"split": None, "annotations": data}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise FileFormatError(f"{path}: not a PySKL annotation file (no 'annotations' list)")
    split = data.get("split")
    if split is not None and (
        not isinstance(split, dict)
        or not all(isinstance(v, list | tuple) and all(isinstance(n, str) for n in v) for v in split.values())
    ):
        raise FileFormatError(f"{path}: 'split' must map split names to lists of frame_dir strings")
    return data


def _label(value: Any, where: str, label_names: list[str] | None) -> str | None:
    """A PySKL label: an index into ``label_names`` (when given and in range) or a name."""
    if value is None:
        return None
    if isinstance(value, str):  # a name, or an index written as text
        try:
            n = int(value)
        except ValueError:
            return value
        return label_names[n] if label_names is not None and 0 <= n < len(label_names) else value
    if not is_real(value) or not math.isfinite(value):
        raise FileFormatError(f"{where}: label must be an integer or a string, got {describe(value)}")
    if label_names is not None and 0 <= int(value) < len(label_names):
        return label_names[int(value)]
    return str(value)


def _img_shape(value: Any, where: str) -> tuple[int, int] | None:
    """``(h, w)``; ``None`` or ``(0, 0)`` mark "no image" (e.g. mocap written by save_pyskl)."""
    if value is None:
        return None
    if (
        isinstance(value, list | tuple | np.ndarray)
        and len(value) == 2
        and all(is_real(v) and v == 0 for v in value)
    ):
        return None
    return image_shape(value, where, FileFormatError)


def _arrays(ann: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """``keypoint [M, T, V, 2]`` and ``keypoint_score [M, T, V]`` as float32, checked."""
    if "keypoint" not in ann:
        raise FileFormatError(f"{where}: annotation has no 'keypoint'")
    kp = numeric_array(ann["keypoint"], where, "keypoint").astype(np.float32)
    if kp.ndim != 4 or kp.shape[-1] < 2:
        raise ClipError(f"{where}: keypoint must be [M, T, V, C] with C >= 2, got shape {kp.shape}")
    sc = ann.get("keypoint_score")
    if sc is None:
        sc = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:3], np.float32)
    sc = numeric_array(sc, where, "keypoint_score", kinds="biuf").astype(np.float32)
    if sc.shape != kp.shape[:3]:
        raise ClipError(f"{where}: keypoint_score has shape {sc.shape}, keypoint needs {kp.shape[:3]}")
    return kp[..., :2], np.clip(sc, 0.0, 1.0)


def annotation_to_clip(
    ann: dict[str, Any],
    layout: str,
    source: str | None = None,
    label_names: list[str] | None = None,
    fps: float | None = None,
) -> Clip:
    """Convert one PySKL annotation dict to a validated :class:`Clip`."""
    frame_dir = ann.get("frame_dir")
    where = f"{source}::{frame_dir}" if source else str(frame_dir)
    if frame_dir is not None and not isinstance(frame_dir, str | int):
        raise FileFormatError(f"{where}: frame_dir must be a string, got {describe(frame_dir)}")
    kp, sc = _arrays(ann, where)
    clip = Clip(
        keypoint=kp,
        keypoint_score=sc,
        layout=layout,
        fps=fps,
        img_shape=_img_shape(ann.get("img_shape"), where),
        label=_label(ann.get("label"), where, label_names),
        source=source,
        frame_dir=str(frame_dir) if frame_dir is not None else None,
        meta={
            k: v
            for k, v in ann.items()
            if isinstance(v, (str, int, float)) and k not in ("label", "frame_dir")
        },
    )
    clip.keypoint = np.where(np.isfinite(clip.keypoint), clip.keypoint, 0.0).astype(np.float32)
    return clip.validate()


def iter_pyskl(
    path: str | os.PathLike[str],
    layout: str = "coco17",
    trust_pickle: bool = False,
    split: str | None = None,
    label_names: list[str] | None = None,
) -> Iterator[Clip]:
    """Yield the clips of a PySKL file (optionally only those of ``split``)."""
    data = read_pyskl_raw(path, trust_pickle)
    keep = None
    if split is not None:
        splits = data.get("split") or {}
        if split not in splits:
            raise FileFormatError(f"{path}: no split {split!r}; splits: {sorted(splits)}")
        keep = set(splits[split])  # checked by read_pyskl_raw: a list of strings
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            raise FileFormatError(f"{path}: annotations must be dicts, found {type(ann).__name__}")
        if keep is not None and (not isinstance(ann.get("frame_dir"), str) or ann["frame_dir"] not in keep):
            continue
        yield annotation_to_clip(ann, layout, source=str(path), label_names=label_names)


def clip_to_annotation(clip: Clip, label_index: int = -1) -> dict[str, Any]:
    shape = clip.img_shape or (0, 0)
    return {
        "frame_dir": clip.frame_dir or clip.name,
        "label": label_index,
        "img_shape": tuple(shape),
        "original_shape": tuple(shape),
        "total_frames": clip.num_frames,
        "keypoint": np.asarray(clip.keypoint, np.float32),
        "keypoint_score": np.asarray(clip.keypoint_score, np.float32),
    }


def save_pyskl(
    path: str | os.PathLike[str],
    clips: list[Clip],
    label_names: list[str] | None = None,
    split: dict[str, list[str]] | None = None,
) -> None:
    """Write clips as a PySKL annotation pickle (atomically)."""
    names = label_names or sorted({c.label for c in clips if c.label is not None})
    index = {n: i for i, n in enumerate(names)}
    anns = [clip_to_annotation(c, index.get(c.label, -1) if c.label else -1) for c in clips]
    data: dict[str, Any] = {"annotations": anns}
    if split is not None:
        data["split"] = split

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(data, fh, protocol=4)

    write_with(path, _write)
