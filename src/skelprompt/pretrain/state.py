"""Training state beside a model file: the optimiser state as tensors, epoch, step, config and
history as JSON metadata (no pickle), so that a run resumes exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from skelprompt.errors import ModelError
from skelprompt.model.checkpoint import load_tensors, read_safetensors_metadata, save_tensors
from skelprompt.pretrain.config import PretrainConfig

STATE_FORMAT = "skelprompt-train-state"


def companion_paths(out: str | Path) -> tuple[Path, Path]:
    """``(train-state file, log file)`` beside the model file ``out``."""
    out = Path(out)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(stem + ".train-state.safetensors"), out.with_name(stem + ".log.jsonl")


def last_model_path(out: str | Path) -> Path:
    """Where the last epoch's weights go when ``out`` holds the best epoch's (``select: best``)."""
    out = Path(out)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(stem + ".last.safetensors")


def _optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, v in tensors.items():
        if not name.startswith("opt."):
            continue
        _, pid, k = name.split(".", 2)
        state.setdefault(int(pid), {})[k] = v
    for key, v in meta.get("scalars", {}).items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_train_state(
    path: Path, opt: torch.optim.Optimizer, epoch: int, step: int, cfg: PretrainConfig,
    history: list[dict], model_sha: str, extra: dict[str, Any],
) -> None:  # fmt: skip
    tensors, ometa = _optimizer_to_tensors(opt)
    meta = {
        "format": STATE_FORMAT,
        "epoch": str(epoch),
        "step": str(step),
        "config": json.dumps(cfg.to_dict()),
        "optimizer": json.dumps(ometa),
        "history": json.dumps(history),
        "model_checksum": model_sha,
        "extra": json.dumps({**extra, "run_id": restart_run_id()}),  # a torchrun restart resumes this run
    }
    if not tensors:  # safetensors needs at least one tensor
        tensors = {"_empty": torch.zeros(1)}
    save_tensors(path, tensors, meta)


def load_train_state(path: Path) -> dict[str, Any]:
    meta = read_safetensors_metadata(path)
    if meta.get("format") != STATE_FORMAT:
        raise ModelError(f"{path}: not a skelprompt training-state file")
    tensors = load_tensors(path)
    return {
        "epoch": int(meta["epoch"]),
        "step": int(meta["step"]),
        "config": PretrainConfig.from_dict(json.loads(meta["config"])),
        "optimizer": _optimizer_from_tensors(tensors, json.loads(meta["optimizer"])),
        "history": json.loads(meta["history"]),
        "model_checksum": meta.get("model_checksum", ""),
        "extra": json.loads(meta.get("extra", "{}")),
    }


def restart_run_id() -> str:
    """The torchrun run id (``TORCHELASTIC_RUN_ID``), or "" outside torchrun."""
    return os.environ.get("TORCHELASTIC_RUN_ID", "")


def restart_resume(out: str | Path) -> Path | None:
    """``out`` when this process is a torchrun restart (``--max-restarts``) of the run that
    wrote ``out``'s training state (same run id): the restarted workers continue from the
    last finished epoch. None otherwise (a first start never resumes a stale state)."""
    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) < 1:
        return None
    state, _ = companion_paths(out)
    if not state.exists() or not Path(out).exists():
        return None
    meta = read_safetensors_metadata(state)
    extra = json.loads(meta.get("extra", "{}"))
    return Path(out) if extra.get("run_id") and extra.get("run_id") == restart_run_id() else None
