"""Helpers shared by CLI commands: reading inputs, choosing the model, checking where outputs
go, writing JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.footage.results import finite_json
from skelprompt.io import CLIP_SUFFIXES, expand_inputs, load_clips
from skelprompt.io.atomic import write_text_atomic


def read_clip_inputs(paths: list[str], trust_pickle: bool = False, layout: str = "coco17") -> list[Clip]:
    """All clips in the given files and folders, with a progress bar for many files."""
    files = expand_inputs([*paths], CLIP_SUFFIXES)
    clips: list[Clip] = []
    for f in tqdm(files, desc="reading", unit="file", disable=len(files) < 20):
        clips.extend(load_clips(f, trust_pickle=trust_pickle, layout=layout))
    if not clips:
        raise SkelpromptError(f"no clips found in {', '.join(paths)}")
    return clips


def choose_model(model: str | None, untrained: bool, preset: str = "small", seed: int = 0):
    from skelprompt.model import load_model, untrained_model

    if untrained:
        if model:
            raise SkelpromptError("give either --model or --untrained, not both")
        return untrained_model(preset, seed)
    return load_model(model)


@dataclass(frozen=True)
class Output:
    """A file a command will write: the option that names it, the path given (None when the
    option was not given) and the suffix it must have, if any."""

    option: str
    path: str | os.PathLike[str] | None
    suffix: str | None = None


def check_outputs(
    outputs: Sequence[Output],
    inputs: Sequence[str | os.PathLike[str] | None],
    read_suffixes: tuple[str, ...] | None = (),
) -> None:
    """Refuse, before any work, an output that would overwrite one of the command's inputs
    (the same file by path, link or hard link), that is a folder, that lies below a file,
    that lacks its suffix, or that another output names too. Inputs that are folders hold
    the files with ``read_suffixes`` below them (None: any file)."""
    given = [(o, Path(o.path)) for o in outputs if o.path is not None]
    in_paths = [Path(p) for p in inputs if p is not None]
    seen: dict[Path, str] = {}
    for o, out in given:
        for inp in in_paths:
            if _same_file(out, inp) or _read_from_folder(out, inp, read_suffixes):
                raise SkelpromptError(
                    f"{out}: {o.option} would overwrite an input of this command; write to another file"
                )
        _check_writable(o.option, out)
        if o.suffix and out.suffix.lower() != o.suffix:
            raise SkelpromptError(f"{out}: {o.option} must name a {o.suffix} file")
        key = out.resolve()
        if key in seen:
            raise SkelpromptError(f"{out}: {seen[key]} and {o.option} name the same file")
        seen[key] = o.option


def _check_writable(option: str, out: Path) -> None:
    if out.is_dir():
        raise SkelpromptError(f"{out}: {option} names a folder; give a file name")
    # the nearest folder that exists: the writer makes the missing ones below it
    folder = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists() or p == p.parent)
    if folder == out.absolute():
        return  # an existing file, replaced atomically
    if not folder.is_dir():
        raise SkelpromptError(f"{out}: {option} lies below {folder}, which is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SkelpromptError(f"{out}: {option} cannot be written: no permission to write in {folder}")


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _read_from_folder(out: Path, folder: Path, read_suffixes: tuple[str, ...] | None) -> bool:
    """Whether ``out`` is an existing file the command would read from the input ``folder``."""
    if not (folder.is_dir() and out.is_file() and out.resolve().is_relative_to(folder.resolve())):
        return False
    return read_suffixes is None or out.suffix.lower() in read_suffixes


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON atomically; NaN and infinities are written as null, so the file is
    always valid JSON."""
    text = json.dumps(finite_json(obj), indent=2, default=_jsonable, allow_nan=False)
    write_text_atomic(path, text + "\n")
