"""Helpers shared by CLI commands: reading inputs, choosing the model, writing JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
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


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def write_json(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")
