"""Model files: one ``.safetensors`` file holding the weights, with the configuration and
provenance as JSON in its metadata header. Loading never unpickles.

``load_model()`` with no argument returns the model bundled inside the package
(``skelprompt/models/default.safetensors``) when there is one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from skelprompt.errors import ModelError
from skelprompt.io.atomic import write_with
from skelprompt.model.config import PRESETS, ModelConfig
from skelprompt.model.network import SkeletonTextModel

MODEL_FORMAT = "skelprompt-model"
MODEL_VERSION = 1
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.safetensors"


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a safetensors file, with clear errors for other files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: file too short to be a safetensors file")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > 100_000_000:
                raise ModelError(f"{path}: not a safetensors file (bad header length)")
            raw = fh.read(n)
            if len(raw) < n:
                raise ModelError(f"{path}: truncated safetensors header")
            header = json.loads(raw)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: not a safetensors file (header is not a JSON object)")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelError(f"{path}: the safetensors metadata is not a JSON object of strings")
    return meta


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path}: cannot read tensors ({e})") from None


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, str]
) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta), suffix=".safetensors")


def save_model(
    path: str | os.PathLike[str], model: SkeletonTextModel, provenance: dict[str, Any] | None = None
) -> None:
    """Write ``model`` (weights + config + provenance) atomically."""
    meta = {
        "format": MODEL_FORMAT,
        "version": str(MODEL_VERSION),
        "config": json.dumps(model.cfg.to_dict()),
        "provenance": json.dumps(provenance or {}),
    }
    save_tensors(path, model.state_dict(), meta)


def model_checksum(model: SkeletonTextModel) -> str:
    """A SHA-256 of the weights (in a fixed order), to tie detectors and results to a model."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def untrained_model(preset: str = "small", seed: int = 0, **overrides: Any) -> SkeletonTextModel:
    """A randomly initialised model (the 'untrained encoder' control)."""
    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    cfg = PRESETS[preset]
    if overrides:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
    torch.manual_seed(seed)
    model = SkeletonTextModel(cfg)
    model.eval()
    model.provenance = {"untrained": True, "preset": preset, "seed": seed}
    return model


def load_model(path: str | os.PathLike[str] | None = None) -> SkeletonTextModel:
    """Load a model file; with no path, the model bundled in the package."""
    if path is None:
        if not BUNDLED_MODEL.exists():
            raise ModelError(
                "this skelprompt build ships no bundled model; pass --model FILE "
                "(train one with `skelprompt pretrain`) or use --untrained for the control"
            )
        path = BUNDLED_MODEL
    path = Path(path)
    meta = read_safetensors_metadata(path)
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a skelprompt model file (format {meta.get('format')!r})")
    if int(meta.get("version", "0")) > MODEL_VERSION:
        raise ModelError(f"{path}: model file version {meta['version']} is newer than this skelprompt reads")
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path}: malformed model config ({e})") from None
    model = SkeletonTextModel(cfg)
    state = load_tensors(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ModelError(
            f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelError(
                f"{path}: weight {k} has shape {tuple(state[k].shape)}, config expects {tuple(v.shape)}"
            )
    model.load_state_dict(state)
    model.eval()
    model.provenance = json.loads(meta.get("provenance", "{}"))
    model.source_path = str(path)
    return model
