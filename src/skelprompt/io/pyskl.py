"""PySKL annotation pickles: ``{"split": {...}, "annotations": [dict, ...]}`` or a bare list.

Each annotation holds ``frame_dir``, ``label`` (int), ``img_shape`` and ``original_shape``
``(h, w)``, ``total_frames``, ``keypoint [M, T, V, 2]`` and ``keypoint_score [M, T, V]``.

WARNING: reading a pickle can run arbitrary code hidden in the file. Only open pickles you
trust; the functions here refuse unless called with ``trust_pickle=True``. skelprompt's own
format (``io.npz``) is safe to open from anyone.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError, FileFormatError
from skelprompt.io.atomic import write_with

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
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - the user asked for this format explicitly
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except Exception as e:  # a broken pickle can raise nearly anything
        raise FileFormatError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    if isinstance(data, list):
        data = {"split": None, "annotations": data}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise FileFormatError(f"{path}: not a PySKL annotation file (no 'annotations' list)")
    return data


def annotation_to_clip(
    ann: dict[str, Any],
    layout: str,
    source: str | None = None,
    label_names: list[str] | None = None,
    fps: float | None = None,
) -> Clip:
    """Convert one PySKL annotation dict to a validated :class:`Clip`."""
    where = f"{source}::{ann.get('frame_dir')}" if source else str(ann.get("frame_dir"))
    for key in ("keypoint",):
        if key not in ann:
            raise FileFormatError(f"{where}: annotation has no {key!r}")
    kp = np.asarray(ann["keypoint"], dtype=np.float32)
    if kp.ndim != 4:
        raise ClipError(f"{where}: keypoint must be [M, T, V, C], got shape {kp.shape}")
    sc = ann.get("keypoint_score")
    if sc is None:
        sc = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:3], np.float32)
    sc = np.clip(np.asarray(sc, dtype=np.float32), 0.0, 1.0)
    kp = kp[..., :2]
    label = ann.get("label")
    if label is not None and label_names is not None and 0 <= int(label) < len(label_names):
        label = label_names[int(label)]
    img_shape = ann.get("img_shape")
    if img_shape is not None and (len(img_shape) != 2 or min(int(v) for v in img_shape) <= 0):
        img_shape = None  # (0, 0) marks "no image" (e.g. mocap written by save_pyskl)
    clip = Clip(
        keypoint=kp,
        keypoint_score=sc,
        layout=layout,
        fps=fps,
        img_shape=tuple(int(v) for v in img_shape) if img_shape is not None else None,
        label=None if label is None else str(label),
        source=source,
        frame_dir=str(ann.get("frame_dir")) if ann.get("frame_dir") is not None else None,
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
        keep = set(splits[split])
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            raise FileFormatError(f"{path}: annotations must be dicts, found {type(ann).__name__}")
        if keep is not None and ann.get("frame_dir") not in keep:
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
