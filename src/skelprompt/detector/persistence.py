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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.detector import sources
from skelprompt.detector.config import LEGACY_PROMPT_OPTIONS, DetectorConfig
from skelprompt.detector.exemplars import AnomalyExemplars
from skelprompt.detector.scorers import SCORERS, OoDScorer
from skelprompt.errors import ModelConfigError, ModelError
from skelprompt.model.checkpoint import load_tensors, model_checksum, read_safetensors_metadata, save_tensors
from skelprompt.model.config import ModelConfig
from skelprompt.model.network import SkeletonTextModel

DETECTOR_FORMAT = "skelprompt-detector"
DETECTOR_VERSION = 1
# the persons of the normal clips of several people (absent in files from before them)
PERSON_EMBEDDINGS, PERSON_CLIP = "detector.person_embeddings", "detector.person_clip"
NORMAL_DIST = "normal_dist"  # the cross-fitted distances, stored beside each scorer's tensors


@dataclass
class DetectorState:
    """What a detector file holds: the encoders, the options and the fitted statistics (the
    detector hands this over, so that this module needs no detector class)."""

    model: SkeletonTextModel
    config: DetectorConfig
    random_encoder: SkeletonTextModel | None
    normal_embeddings: np.ndarray
    normal_ood: np.ndarray
    scorers: dict[str, OoDScorer]
    normal_dists: dict[str, np.ndarray]
    info: dict[str, Any]
    # the normal clips' persons embedded alone (embeddings, owning clip); None in older files
    normal_persons: tuple[np.ndarray, np.ndarray] | None = None
    exemplars: AnomalyExemplars | None = None  # few-shot anomaly examples (exemplars.py)

    def fitted_arrays(self) -> dict[str, np.ndarray]:
        """The fitted statistics by tensor name (model weights aside)."""
        out = {"detector.normal_embeddings": self.normal_embeddings, "detector.normal_ood": self.normal_ood}
        if self.normal_persons is not None:
            out[PERSON_EMBEDDINGS], out[PERSON_CLIP] = self.normal_persons
        for src, sc in self.scorers.items():
            st = {**sc.to_tensors(), NORMAL_DIST: self.normal_dists[src]}
            out.update({f"ood.{src}.{name}": arr for name, arr in st.items()})
        if self.exemplars is not None:
            out.update(self.exemplars.to_tensors())
        return out


def checksum(det: DetectorState) -> str:
    """SHA-256 of the config, the encoders' weights and the fitted statistics."""
    fitted = det.fitted_arrays()
    # bank_size is left out: the bank it chose is hashed below, and files written before the
    # option existed keep their checksums
    config = {k: v for k, v in asdict(det.config).items() if k != "bank_size"}
    if config["prompt_persons"] == "group":  # likewise for files from before prompt_persons
        del config["prompt_persons"]
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for enc in (det.model, det.random_encoder):
        h.update(model_checksum(enc).encode() if enc is not None else b"-")
    for name, arr in sorted(fitted.items()):
        a = np.ascontiguousarray(arr, np.float64)
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_detector(det: DetectorState, path: str | os.PathLike[str]) -> None:
    """Write the detector (model weights included) atomically."""
    fitted = det.fitted_arrays()
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
    path: str | os.PathLike[str], expect_model: SkeletonTextModel | None = None
) -> DetectorState:
    """Read a detector file, every field checked; with ``expect_model``, fail clearly if it was
    fitted with another model."""
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
    random_enc = None
    if "random" in dcfg.sources:
        random_enc = sources.random_encoder(mcfg)
        rstate = {
            k[len("random_encoder.") :]: v for k, v in tensors.items() if k.startswith("random_encoder.")
        }
        try:
            random_enc.load_state_dict(rstate)
        except RuntimeError:
            raise ModelError(f"{path}: the stored random encoder does not match the model config") from None
    info["model_checksum"] = meta.get("model_checksum")
    persons = _persons(path, tensors, normal_embeddings)
    exemplars = None
    if "exemplars" in meta:
        dims = {s: sources.feature_dim(dcfg, mcfg, s) for s in dcfg.sources}
        ex_tensors = {
            k: v.to(torch.float64).numpy() for k, v in tensors.items() if k.startswith("exemplars.")
        }
        ex_meta = _json_object(path, meta, "exemplars")
        exemplars = AnomalyExemplars.from_file(path, ex_meta, ex_tensors, dcfg, len(normal_ood), dims)
    return DetectorState(
        model, dcfg, random_enc, normal_embeddings, normal_ood, scorers, normal_dists, info, persons,
        exemplars,
    )  # fmt: skip


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
    """Checked by the model's own config reader, the one that model files go through."""
    try:
        return ModelConfig.from_dict(d)
    except ModelConfigError as e:
        raise ModelError(f"{path}: metadata field 'model_config': {e}") from None


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


def _persons(
    path: Path, tensors: dict[str, torch.Tensor], normal_embeddings: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The normal clips' persons, checked against the normal clips; None when not stored."""
    if PERSON_EMBEDDINGS not in tensors and PERSON_CLIP not in tensors:
        return None
    if PERSON_EMBEDDINGS not in tensors or PERSON_CLIP not in tensors:
        raise ModelError(
            f"{path}: detector statistics hold only one of '{PERSON_EMBEDDINGS}' and '{PERSON_CLIP}'"
        )
    embs = tensors[PERSON_EMBEDDINGS].to(torch.float64).numpy()
    owner = tensors[PERSON_CLIP].to(torch.float64).numpy()
    n, d = normal_embeddings.shape
    if embs.ndim != 2 or embs.shape[1] != d or owner.shape != (len(embs),):
        raise ModelError(
            f"{path}: tensors '{PERSON_EMBEDDINGS}' {tuple(embs.shape)} and '{PERSON_CLIP}' "
            f"{tuple(owner.shape)} do not fit the {d}-d normal embeddings"
        )
    if not np.isfinite(embs).all() or (
        len(owner) and (owner.min() < 0 or owner.max() >= n or (owner % 1).any())
    ):
        raise ModelError(
            f"{path}: tensor '{PERSON_EMBEDDINGS}' is not finite or '{PERSON_CLIP}' names clips "
            f"outside the {n} normal clips"
        )
    return embs, owner.astype(np.int64)


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
