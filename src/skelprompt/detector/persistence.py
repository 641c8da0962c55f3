"""Detector files: one ``.safetensors`` file with the model's weights and the normal statistics
as tensors, configuration and provenance as JSON metadata. Self-contained: scoring needs no
other file.

Tensors: ``model.*`` (weights), ``random_encoder.*`` (with the "random" source),
``detector.normal_embeddings``, ``detector.normal_ood`` and, per OoD source,
``ood.<source>.<name>`` for every tensor of its scorer plus ``ood.<source>.normal_dist``.
Loading checks every metadata field, every shape and that every statistic is finite before
use: each problem is a ModelError naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.detector import sources
from skelprompt.detector.config import LEGACY_PROMPT_OPTIONS, DetectorConfig, has_type
from skelprompt.detector.exemplars import AnomalyExemplars
from skelprompt.detector.scorers import SCORERS, OoDScorer
from skelprompt.errors import ModelError
from skelprompt.model.checkpoint import load_tensors, model_checksum, read_safetensors_metadata, save_tensors
from skelprompt.model.config import ModelConfig
from skelprompt.model.network import SkeletonTextModel

if TYPE_CHECKING:
    from skelprompt.detector.detector import Detector

DETECTOR_FORMAT = "skelprompt-detector"
DETECTOR_VERSION = 1
NORMAL_DIST = "normal_dist"  # the cross-fitted distances, stored beside each scorer's tensors
# model config integers that may be 0; the others must be positive
_MAY_BE_ZERO = {"num_blocks", "num_classes"}


def fitted_arrays(det: Detector) -> dict[str, np.ndarray]:
    """The fitted statistics by tensor name (model weights aside)."""
    normal_ood, normal_embeddings = det._check_fitted()
    out = {"detector.normal_embeddings": normal_embeddings, "detector.normal_ood": normal_ood}
    for src, st in det.stats.items():
        out.update({f"ood.{src}.{name}": arr for name, arr in st.items()})
    if det.exemplars is not None:
        out.update(det.exemplars.to_tensors())
    return out


def checksum(det: Detector) -> str:
    """SHA-256 of the config, the encoders' weights and the fitted statistics."""
    fitted = fitted_arrays(det)
    # bank_size is left out: the bank it chose is hashed below, and files written before the
    # option existed keep their checksums
    config = {k: v for k, v in asdict(det.config).items() if k != "bank_size"}
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for enc in (det.model, det.random_encoder):
        h.update(model_checksum(enc).encode() if enc is not None else b"-")
    for name, arr in sorted(fitted.items()):
        a = np.ascontiguousarray(arr, np.float64)
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_detector(det: Detector, path: str | os.PathLike[str]) -> None:
    """Write the detector (model weights included) atomically."""
    fitted = fitted_arrays(det)
    tensors = {f"model.{k}": v for k, v in det.model.state_dict().items()}
    if det.random_encoder is not None:
        tensors.update({f"random_encoder.{k}": v for k, v in det.random_encoder.state_dict().items()})
    # copies: the file writer must not share memory with the detector
    tensors.update({k: torch.from_numpy(np.array(v, copy=True)) for k, v in fitted.items()})
    meta = {
        "format": DETECTOR_FORMAT,
        "version": str(DETECTOR_VERSION),
        "skelprompt_version": __version__,
        "detector_config": json.dumps(asdict(det.config)),
        "model_config": json.dumps(det.model.cfg.to_dict()),
        "model_checksum": model_checksum(det.model),
        "model_provenance": json.dumps(getattr(det.model, "provenance", {})),
        "info": json.dumps(det.info),
    }
    if det.exemplars is not None:
        meta["exemplars"] = json.dumps(det.exemplars.to_meta())
    save_tensors(path, tensors, meta)


def load_detector(
    cls: type[Detector], path: str | os.PathLike[str], expect_model: SkeletonTextModel | None = None
) -> Detector:
    """Load a detector; with ``expect_model``, fail clearly if it was fitted with another model."""
    path = Path(path)
    meta = read_safetensors_metadata(path)
    _check_format(path, meta)
    dcfg = _detector_config(path, _json_object(path, meta, "detector_config"))
    mcfg = _model_config(path, _json_object(path, meta, "model_config"))
    provenance = _json_object(path, meta, "model_provenance", required=False)
    info = _json_object(path, meta, "info", required=False)
    stored_checksum = meta.get("model_checksum", "?")
    if expect_model is not None and model_checksum(expect_model) != stored_checksum:
        raise ModelError(
            f"{path}: this detector was fitted with another model (checksum {stored_checksum[:12]}, "
            f"given model {model_checksum(expect_model)[:12]}); refit it with this model or drop --model"
        )
    tensors = load_tensors(path)
    # every statistic is checked before the model is built
    normal_embeddings, normal_ood, scorers, normal_dists = _statistics(path, tensors, dcfg, mcfg)
    model = _model(path, tensors, mcfg)
    model.provenance = provenance
    det = cls(model, dcfg)
    if det.random_encoder is not None:
        rstate = {
            k[len("random_encoder.") :]: v for k, v in tensors.items() if k.startswith("random_encoder.")
        }
        try:
            det.random_encoder.load_state_dict(rstate)
        except RuntimeError:
            raise ModelError(f"{path}: the stored random encoder does not match the model config") from None
    det.normal_embeddings, det.normal_ood = normal_embeddings, normal_ood
    det.scorers, det.normal_dists = scorers, normal_dists
    if "exemplars" in meta:
        dims = {s: sources.feature_dim(dcfg, mcfg, s) for s in dcfg.sources}
        ex_tensors = {
            k: v.to(torch.float64).numpy() for k, v in tensors.items() if k.startswith("exemplars.")
        }
        ex_meta = _json_object(path, meta, "exemplars")
        det.exemplars = AnomalyExemplars.from_file(path, ex_meta, ex_tensors, dcfg, len(normal_ood), dims)
    det.info = info
    det.info["model_checksum"] = meta.get("model_checksum")
    return det


def _check_format(path: Path, meta: dict[str, str]) -> None:
    if meta.get("format") != DETECTOR_FORMAT:
        hint = (
            " (this is a model file; fit a detector with `skelprompt fit`)"
            if meta.get("format") == "skelprompt-model"
            else ""
        )
        raise ModelError(f"{path}: not a skelprompt detector file{hint}")
    version = meta.get("version", "0")
    if not re.fullmatch(r"[0-9]+", version):
        raise ModelError(f"{path}: metadata field 'version' must be an integer, got {version!r}")
    if int(version) > DETECTOR_VERSION:
        raise ModelError(f"{path}: detector file version {version} is newer than this skelprompt reads")


def _json_object(path: Path, meta: dict[str, str], key: str, required: bool = True) -> dict[str, Any]:
    """A metadata field that holds a JSON object; optional fields default to ``{}``."""
    if key not in meta:
        if required:
            raise ModelError(f"{path}: metadata field {key!r} is missing")
        return {}
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError:
        raise ModelError(f"{path}: metadata field {key!r} is not JSON") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: metadata field {key!r} must be a JSON object, got {type(value).__name__}")
    return value


def _detector_config(path: Path, d: dict[str, Any]) -> DetectorConfig:
    unknown = sorted(set(d) - {f.name for f in fields(DetectorConfig)})
    if unknown:
        raise ModelError(f"{path}: metadata field 'detector_config' has unknown options {unknown}")
    try:
        # a file from before the prompt options scores with the cosine evidence it was made with
        return DetectorConfig(**{**LEGACY_PROMPT_OPTIONS, **d})
    except ValueError as e:
        raise ModelError(f"{path}: metadata field 'detector_config': {e}") from None


def _model_config(path: Path, d: dict[str, Any]) -> ModelConfig:
    problem = _config_problem(d, ModelConfig(), "model_config")
    if problem:
        raise ModelError(f"{path}: metadata field {problem}")
    return ModelConfig.from_dict(d)


def _config_problem(d: dict[str, Any], default: Any, where: str) -> str | None:
    """What is wrong with a config dict next to the field types of a default config, or None.
    Fields it leaves out take their defaults, as ModelConfig.from_dict does."""
    for f in fields(default):
        if f.name not in d:
            continue
        value, ref, name = d[f.name], getattr(default, f.name), f"{where}.{f.name}"
        if is_dataclass(ref):
            inner = (
                _config_problem(value, ref, name) if isinstance(value, dict) else f"{name} must be an object"
            )
        elif isinstance(ref, tuple):
            want = type(ref[0]) if ref else str
            ok = isinstance(value, list) and all(_value_ok(v, want, f.name) for v in value)
            inner = None if ok else f"{name} must be a list of {_describe(want, f.name, True)}, got {value!r}"
        else:
            ok = _value_ok(value, type(ref), f.name)
            inner = None if ok else f"{name} must be {_describe(type(ref), f.name, False)}, got {value!r}"
        if inner is None and f.name == "embed_dims" and not value:
            inner = f"{name} must not be empty"
        if inner is not None:
            return inner
    return None


def _value_ok(value: object, want: type, field_name: str) -> bool:
    """The type, and for numbers the sign: sizes are positive, other numbers non-negative."""
    if not has_type(value, want):
        return False
    if want is int:
        return value >= (0 if field_name in _MAY_BE_ZERO else 1)  # type: ignore[operator]
    return want is not float or value >= 0  # type: ignore[operator]


def _describe(want: type, field_name: str, plural: bool) -> str:
    if want is int:
        what = "non-negative integer" if field_name in _MAY_BE_ZERO else "positive integer"
    else:
        what = "non-negative number" if want is float else f"{want.__name__} value"
    return f"{what}s" if plural else f"a {what}"


def _statistics(
    path: Path, tensors: dict[str, torch.Tensor], dcfg: DetectorConfig, mcfg: ModelConfig
) -> tuple[np.ndarray, np.ndarray, dict[str, OoDScorer], dict[str, np.ndarray]]:
    """``(normal_embeddings, normal_ood, scorers, normal_dists)`` from the tensors, every
    shape checked against the configs."""

    def get(name: str) -> np.ndarray:
        if name not in tensors:
            raise ModelError(f"{path}: detector statistics missing ('{name}')")
        arr = tensors[name].to(torch.float64).numpy()
        if not np.isfinite(arr).all():  # every score would be NaN, every alert silently lost
            raise ModelError(
                f"{path}: the detector's normal statistics are not finite (tensor '{name}' holds "
                "NaN or infinity); fit the detector again"
            )
        return arr

    emb, ood = get("detector.normal_embeddings"), get("detector.normal_ood")
    n = ood.shape[0] if ood.ndim == 1 else 0
    if n == 0 or emb.shape != (n, mcfg.text_dim):
        raise ModelError(
            f"{path}: stored normal OoD distances {tuple(ood.shape)} and embeddings {tuple(emb.shape)} "
            f"do not fit the model's text dimension {mcfg.text_dim}"
        )
    scorers, dists = {}, {}
    for src in dcfg.sources:
        prefix = f"ood.{src}."
        own = {k[len(prefix) :]: get(k) for k in tensors if k.startswith(prefix)}
        dists[src], normal = get(prefix + NORMAL_DIST), own.pop("normal", np.zeros((0, 0)))
        d = sources.feature_dim(dcfg, mcfg, src)
        # any number of rows: every variant of every clip, or a coreset of them (bank_size)
        if normal.ndim != 2 or normal.shape[1] != d or not len(normal):
            raise ModelError(
                f"{path}: tensor '{prefix}normal' has shape {tuple(normal.shape)}, expected (rows, {d})"
            )
        if dists[src].shape != (n,):
            raise ModelError(
                f"{path}: tensor '{prefix}{NORMAL_DIST}' has shape {tuple(dists[src].shape)}, expected ({n},)"
            )
        own.pop(NORMAL_DIST)
        try:  # the scorer checks its own tensors
            scorers[src] = SCORERS[dcfg.ood].from_tensors({"normal": normal, **own}, dcfg.scorer_params())
        except ModelError as e:
            raise ModelError(f"{path}: statistics of OoD source {src!r}: {e}") from None
        if scorers[src].groups.max() >= n:
            raise ModelError(f"{path}: tensor '{prefix}groups' names clips beyond the {n} normal clips")
    return emb, ood, scorers, dists


def _model(path: Path, tensors: dict[str, torch.Tensor], mcfg: ModelConfig) -> SkeletonTextModel:
    try:
        model = SkeletonTextModel(mcfg)
    except (ValueError, RuntimeError, TypeError) as e:
        raise ModelError(f"{path}: metadata field 'model_config' does not make a model ({e})") from None
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = model.state_dict()
    if set(state) != set(expected) or any(
        tuple(state[k].shape) != tuple(v.shape) for k, v in expected.items()
    ):
        raise ModelError(f"{path}: the stored model weights do not match the stored model config")
    model.load_state_dict(state)
    model.eval()
    return model
