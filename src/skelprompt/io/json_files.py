"""Shared pieces of the JSON keypoint readers (OpenPose, COCO, AlphaPose): reading a file with
clear errors, frame numbers from names and ids, track ids, and keypoint triples."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import MAX_FRAME
from skelprompt.errors import FileFormatError
from skelprompt.io.fields import is_real, numeric_array, parse_json

MAX_JSON_BYTES = 1024**3  # far above COCO's largest annotation file (~250 MB)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def load_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of ``path``; one clear error for a missing, huge or malformed file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise FileFormatError(
                f"{path}: {size / 1024**3:.1f} GiB is more JSON than skelprompt reads "
                f"({MAX_JSON_BYTES / 1024**3:.0f} GiB)"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_json(raw, path, "the file")


def frame_number(name: str) -> int | None:
    """The last run of digits in a file name or image id (``None`` when there is none)."""
    nums = re.findall(r"\d+", str(name))
    return int(nums[-1]) if nums else None


def check_frame_range(path: Path, lo: int, hi: int) -> None:
    """Frame numbers taken from image ids must be >= 0 and not absurdly large."""
    if lo < 0 or hi > MAX_FRAME:
        raise FileFormatError(
            f"{path}: frame numbers from the image ids must lie in 0..{MAX_FRAME}, found {lo}..{hi}"
        )


def track_id(value: Any) -> int | None:
    """A track id from a file: a number >= 0 (or a one-element list of one); else ``None``."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if not is_real(value) or not np.isfinite(value) or value < 0 or value > MAX_FRAME:
        return None
    return int(value)


def keypoint_triples(path: Path, where: str, value: Any) -> np.ndarray:
    """A flat ``[x0, y0, c0, x1, ...]`` list (or nested triples) -> float64 ``[N * 3]``, every
    value a finite number that fits in float32. ``where`` names the field in messages."""
    try:
        flat = numeric_array(value, path, where).astype(np.float64).reshape(-1)
    except FileFormatError:
        raise FileFormatError(f"{path}: {where} is not a list of numbers") from None
    if not np.isfinite(flat).all():
        raise FileFormatError(f"{path}: {where} has NaN or infinite keypoint values")
    if flat.size and np.abs(flat).max() > FLOAT32_MAX:
        raise FileFormatError(f"{path}: {where} has keypoint values too large for float32")
    return flat
