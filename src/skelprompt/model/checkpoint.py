"""Model files: one ``.safetensors`` file holding the weights, with the configuration and
provenance as JSON in its metadata header. Loading never unpickles.

``load_model()`` with no argument returns the model bundled inside the package
(``skelprompt/weights/default.safetensors``) when there is one.
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

from skelprompt.errors import ModelConfigError, ModelError
from skelprompt.io.atomic import write_error, write_with
from skelprompt.model.config import PRESETS, ModelConfig, weight_shapes
from skelprompt.model.metadata import (
    FLOAT_DTYPES,
    SafetensorsHeader,
    meta_json,
    meta_version,
    read_header,
    read_safetensors_metadata,
)
from skelprompt.model.network import SkeletonTextModel
from skelprompt.model.seeded import seeded

__all__ = [
    "BUNDLED_MODEL", "MODEL_FORMAT", "MODEL_VERSION", "check_weight_shapes", "load_model", "load_tensors",
    "model_checksum", "read_safetensors_metadata", "save_model", "save_tensors", "untrained_model",
]  # fmt: skip

MODEL_FORMAT = "skelprompt-model"
MODEL_VERSION = 1
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "weights" / "default.safetensors"


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path}: cannot read tensors ({e})") from None


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, str]
) -> None:
    """Write a safetensors file atomically; a failed write is a :class:`WriteError`."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def _write(tmp: Path) -> None:
        try:
            save_file(tensors, str(tmp), metadata=meta)
        except SafetensorError as e:  # safetensors reports I/O errors (disk full) as its own type
            raise write_error(path, e) from None

    write_with(path, _write, suffix=".safetensors")


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
    model = seeded(lambda: SkeletonTextModel(cfg), seed)
    model.eval()
    model.provenance = {"untrained": True, "preset": preset, "seed": seed}
    return model


def check_weight_shapes(path: object, header: SafetensorsHeader, cfg: ModelConfig, prefix: str = "") -> None:
    """The header's tensors named ``prefix + key`` must be exactly the float weights ``cfg``
    builds, shape for shape: checked before the model is built or any tensor is loaded."""
    expected = weight_shapes(cfg)
    stored = {k[len(prefix) :]: v for k, v in header.tensors.items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        raise ModelError(
            f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, shape in expected.items():
        if stored[k].shape != shape:
            raise ModelError(
                f"{path}: weight {prefix}{k} has shape {stored[k].shape}, config expects {shape}"
            )
        if stored[k].dtype not in FLOAT_DTYPES:
            raise ModelError(f"{path}: weight {prefix}{k} has dtype {stored[k].dtype}, expected a float type")


def read_model_config(path: object, meta: dict[str, str], key: str = "config") -> ModelConfig:
    """The model config stored as JSON in metadata field ``key``, every field checked."""
    try:
        return ModelConfig.from_dict(meta_json(path, meta, key))
    except ModelConfigError as e:
        raise ModelError(f"{path}: {e}") from None


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
    header = read_header(path)
    meta = header.metadata
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a skelprompt model file (format {meta.get('format')!r})")
    meta_version(path, meta, MODEL_VERSION, "model file")
    cfg = read_model_config(path, meta)
    provenance = meta_json(path, meta, "provenance", default={})
    check_weight_shapes(path, header, cfg)
    model = SkeletonTextModel(cfg)
    state = load_tensors(path)
    if set(state) != set(model.state_dict()):  # the header was read above; a changed file is caught here
        raise ModelError(f"{path}: the weights changed while the file was read")
    model.load_state_dict(state)
    if not all(torch.isfinite(v).all() for v in model.state_dict().values()):
        raise ModelError(f"{path}: the weights hold NaN or infinite values")
    model.eval()
    model.provenance = provenance
    model.source_path = str(path)
    return model
