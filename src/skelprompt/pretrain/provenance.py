"""The provenance record written into every pretrained model file."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.model.config import PRESETS
from skelprompt.pretrain import distributed as ddp
from skelprompt.pretrain.config import PretrainConfig
from skelprompt.pretrain.data import Pool, TextBank
from skelprompt.pretrain.texts import RichTextBank


def pretrain_provenance(
    cfg: PretrainConfig,
    pool: Pool,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    command: str | None,
    history: list[dict[str, Any]],
    train_time: float,
    clips_seen: int,
    info: ddp.DistInfo,
    bank: TextBank | RichTextBank,
) -> dict[str, Any]:
    last = history[-1] if history else {}
    selected = int(last.get("selected_epoch", len(history)))
    kept = history[selected - 1] if 0 < selected <= len(history) else last
    return {
        "kind": "pretrained",
        "skelprompt_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or "",
        "datasets": pool.counts(),
        "excluded_datasets": sorted(set(cfg.exclude)),
        "never_seen": "every data set not listed in 'datasets'",
        "classes": {k: v for k, v in pool.class_datasets.items()},
        "num_classes": len(pool.class_names),
        "train_clips": int(len(train_idx)),
        "val_clips": int(len(val_idx)),
        "text_encoder": PRESETS[cfg.preset].text_encoder,
        "text_targets": {
            "kind": cfg.texts,
            "texts": len(bank.texts),
            "descriptions": bank.num_descriptions,
            "description_p": cfg.description_p,
            "contrastive": cfg.contrastive,
        },
        "synthetic_pairs": pool.counts().get("synth", 0),
        "split": cfg.split,
        "select": cfg.select,
        "selected_epoch": selected,
        "epochs_done": len(history),
        "epochs": cfg.epochs,
        "val_top1": kept.get("val_top1"),
        "val_retrieval": kept.get("val_retrieval"),
        "train_time_s": round(train_time, 1),
        "clips_per_s": round(clips_seen / max(train_time, 1e-9), 1),
        "world_size": info.world_size,
        "config": cfg.to_dict(),
    }
