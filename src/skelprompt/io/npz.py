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
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError, FileFormatError
from skelprompt.io.atomic import write_with

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
            np.savez_compressed(fh, **arrays)

    write_with(path, _write, suffix=".npz")


def load_npz(path: str | os.PathLike[str]) -> list[Clip]:
    """Read the clips of a skelprompt ``.npz`` file; clear errors for foreign or broken files."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise FileFormatError(f"{path}: not a skelprompt clip file (no __meta__ entry)")
            header = json.loads(bytes(z["__meta__"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise FileFormatError(f"{path}: not a skelprompt clip file (format {header.get('format')!r})")
            if int(header.get("version", 0)) > VERSION:
                raise FileFormatError(
                    f"{path}: clip file version {header['version']} is newer than this skelprompt "
                    f"reads ({VERSION}); upgrade skelprompt"
                )
            clips = []
            for i, m in enumerate(header["clips"]):
                tid = z[f"{i}/track_ids"] if f"{i}/track_ids" in z.files else None
                clip = Clip(
                    keypoint=z[f"{i}/keypoint"].astype(np.float32),
                    keypoint_score=z[f"{i}/keypoint_score"].astype(np.float32),
                    layout=m["layout"],
                    fps=m.get("fps"),
                    img_shape=tuple(m["img_shape"]) if m.get("img_shape") else None,
                    label=m.get("label"),
                    source=str(path),
                    frame_dir=m.get("frame_dir"),
                    meta=m.get("meta") or {},
                    track_ids=tid,
                    start_frame=int(m.get("start_frame", 0)),
                )
                clips.append(clip)
    except (FileFormatError, ClipError):
        raise
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError, json.JSONDecodeError) as e:
        raise FileFormatError(
            f"{path}: not a readable skelprompt clip file ({type(e).__name__}: {e})"
        ) from None
    for c in clips:
        c.validate()
    return clips
