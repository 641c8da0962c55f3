"""Clip file formats. ``load_clips`` picks the reader from the file's extension."""

from __future__ import annotations

import os
from pathlib import Path

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.npz import load_npz, save_npz
from skelprompt.io.pyskl import iter_pyskl, save_pyskl

CLIP_SUFFIXES = (".npz", ".pkl", ".pickle")


def load_clips(
    path: str | os.PathLike[str], trust_pickle: bool = False, layout: str = "coco17"
) -> list[Clip]:
    """Read every clip in ``path`` (skelprompt ``.npz``, or a PySKL ``.pkl`` when trusted)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(f"{p}: no such file")
    if p.is_dir():
        raise FileFormatError(f"{p}: is a folder, not a clip file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return load_npz(p)
    if suffix in (".pkl", ".pickle"):
        return list(iter_pyskl(p, layout=layout, trust_pickle=trust_pickle))
    raise FileFormatError(
        f"{p}: unknown clip file type {suffix!r}; expected one of {', '.join(CLIP_SUFFIXES)}"
    )


def expand_inputs(
    paths: list[str | os.PathLike[str]], suffixes: tuple[str, ...] = CLIP_SUFFIXES
) -> list[Path]:
    """Files as given, folders expanded (recursively, sorted) to the files with ``suffixes``."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
            if not found:
                raise FileFormatError(f"{p}: folder holds no files of type {', '.join(suffixes)}")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise FileFormatError(f"{p}: no such file or folder")
    return out


__all__ = ["load_clips", "save_clips", "expand_inputs", "load_npz", "save_npz", "iter_pyskl", "save_pyskl"]


def save_clips(path: str | os.PathLike[str], clips: list[Clip]) -> None:
    """Write clips in skelprompt's safe ``.npz`` format."""
    if Path(path).suffix.lower() != ".npz":
        raise FileFormatError(f"{path}: skelprompt writes clips as .npz (use save_pyskl for PySKL pickles)")
    save_npz(path, clips)
