"""skelprompt's own clip file: a NumPy ``.npz`` of plain arrays plus JSON metadata.

Never unpickles (``allow_pickle=False``), so opening a file from anyone is safe. Layout:
``__meta__`` is UTF-8 JSON bytes ``{"format": "skelprompt-clips", "version": 1, "clips":
[{...clip metadata...}]}``; clip ``i`` has arrays ``{i}/keypoint`` [M,T,V,2] float32,
``{i}/keypoint_score`` [M,T,V] float32 and optionally ``{i}/track_ids`` [M] int64.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import MAX_FPS, MAX_FRAME, Clip, image_shape
from skelprompt.errors import FileFormatError, SkelpromptError
from skelprompt.io.atomic import write_with
from skelprompt.io.fields import (
    NUMERIC_KINDS,
    describe,
    optional_str,
    parse_json,
    require_dict,
    require_int,
    require_list,
    require_real,
    require_str,
)
from skelprompt.io.npz_members import NpyInfo, inspect_npz
from skelprompt.layouts import LAYOUTS

FORMAT = "skelprompt-clips"
VERSION = 1


def save_npz(path: str | os.PathLike[str], clips: list[Clip]) -> None:
    """Write ``clips`` to ``path`` atomically."""
    arrays: dict[str, np.ndarray] = {}
    metas = []
    for i, c in enumerate(clips):
        c.validate()
        arrays[f"{i}/keypoint"] = np.asarray(c.keypoint, np.float32)
        arrays[f"{i}/keypoint_score"] = np.asarray(c.keypoint_score, np.float32)
        if c.track_ids is not None:
            arrays[f"{i}/track_ids"] = np.asarray(c.track_ids, np.int64)
        metas.append(
            {
                "layout": c.layout,
                "fps": c.fps,
                "img_shape": list(c.img_shape) if c.img_shape else None,
                "label": c.label,
                "frame_dir": c.frame_dir,
                "start_frame": int(c.start_frame),
                "meta": c.meta,
            }
        )
    header = {"format": FORMAT, "version": VERSION, "clips": metas}
    arrays["__meta__"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    write_with(path, _write, suffix=".npz")


def _header(path: Path, z: Any, members: dict[str, NpyInfo]) -> list[dict[str, Any]]:
    """The checked ``__meta__`` JSON: its list of per-clip metadata dicts."""
    info = members.get("__meta__")
    if info is None:
        raise FileFormatError(f"{path}: not a skelprompt clip file (no __meta__ entry)")
    if info.dtype != np.uint8 or info.ndim != 1:
        raise FileFormatError(
            f"{path}: __meta__ must be UTF-8 bytes (uint8 [N]), got {info.dtype} {info.shape}"
        )
    header = parse_json(bytes(z["__meta__"]), path, "__meta__")
    if not isinstance(header, dict):
        raise FileFormatError(f"{path}: __meta__ must be a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT:
        raise FileFormatError(f"{path}: not a skelprompt clip file (format {describe(header.get('format'))})")
    version = require_int(header.get("version", 0), path, "__meta__ version", lo=0)
    if version > VERSION:
        raise FileFormatError(
            f"{path}: clip file version {version} is newer than this skelprompt reads ({VERSION}); upgrade skelprompt"
        )
    clips = require_list(header.get("clips"), path, "__meta__ clips")
    return [require_dict(m, f"{path}: clip {i}", "its metadata") for i, m in enumerate(clips)]


def _clip_fields(path: Path, i: int, m: dict[str, Any]) -> dict[str, Any]:
    """Clip keyword arguments from clip ``i``'s metadata, each field checked."""
    where = f"{path}: clip {i}"
    layout = require_str(m.get("layout"), where, "layout")
    if layout not in LAYOUTS:
        raise FileFormatError(
            f"{where}: unknown joint layout {layout!r}; known layouts: {', '.join(sorted(LAYOUTS))}"
        )
    fps = m.get("fps")
    if fps is not None:  # kept as written (an int stays an int)
        require_real(fps, where, "fps", lo=0, hi=MAX_FPS, lo_open=True)
    img_shape = m.get("img_shape")
    meta = m.get("meta")
    return {
        "layout": layout,
        "fps": fps,
        "img_shape": None if img_shape is None else image_shape(img_shape, where),
        "label": optional_str(m.get("label"), where, "label"),
        "frame_dir": optional_str(m.get("frame_dir"), where, "frame_dir"),
        "start_frame": require_int(m.get("start_frame", 0), where, "start_frame", lo=0, hi=MAX_FRAME),
        "meta": {} if meta is None else require_dict(meta, where, "meta"),
    }


def _array_info(path: Path, members: dict[str, NpyInfo], name: str, kinds: str) -> NpyInfo:
    info = members.get(name)
    if info is None:
        raise FileFormatError(f"{path}: no array {name!r}")
    if info.dtype.kind not in kinds:
        what = "integers" if kinds == "iu" else "real numbers"
        raise FileFormatError(f"{path}: array {name!r} must hold {what}, got dtype {info.dtype}")
    return info


def _clip_arrays(path: Path, z: Any, members: dict[str, NpyInfo], i: int) -> dict[str, Any]:
    """Clip ``i``'s arrays, their dtypes and shapes checked from the headers before reading."""
    kp = _array_info(path, members, f"{i}/keypoint", NUMERIC_KINDS)
    sc = _array_info(path, members, f"{i}/keypoint_score", NUMERIC_KINDS)
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise FileFormatError(f"{path}: array '{i}/keypoint' must have shape [M, T, V, 2], got {kp.shape}")
    if sc.shape != kp.shape[:3]:
        raise FileFormatError(
            f"{path}: array '{i}/keypoint_score' has shape {sc.shape}, keypoint needs {kp.shape[:3]}"
        )
    out = {
        "keypoint": z[f"{i}/keypoint"].astype(np.float32),
        "keypoint_score": z[f"{i}/keypoint_score"].astype(np.float32),
        "track_ids": None,
    }
    if f"{i}/track_ids" in members:
        tid = _array_info(path, members, f"{i}/track_ids", "iu")
        if tid.shape != kp.shape[:1]:
            raise FileFormatError(
                f"{path}: array '{i}/track_ids' has shape {tid.shape}, expected ({kp.shape[0]},)"
            )
        out["track_ids"] = z[f"{i}/track_ids"]
    return out


def load_npz(path: str | os.PathLike[str]) -> list[Clip]:
    """Read the clips of a skelprompt ``.npz`` file; clear errors for foreign or broken files."""
    path = Path(path)
    members = inspect_npz(path)  # shapes and dtypes from the headers: nothing absurd is allocated
    try:
        with np.load(path, allow_pickle=False) as z:
            metas = _header(path, z, members)
            clips = [
                Clip(**_clip_arrays(path, z, members, i), **_clip_fields(path, i, m), source=str(path))
                for i, m in enumerate(metas)
            ]
    except SkelpromptError:
        raise
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError, zlib.error) as e:
        raise FileFormatError(
            f"{path}: not a readable skelprompt clip file ({type(e).__name__}: {e})"
        ) from None
    for c in clips:
        c.validate()
    return clips
