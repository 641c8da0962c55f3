"""Checkpoint selection: keep the epoch with the best validation text retrieval (``select: best``).

The model file holds the kept epoch's weights; the last epoch's go beside it
(``NAME.last.safetensors``) so that an interrupted run resumes from where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from skelprompt.model.checkpoint import model_checksum, save_model
from skelprompt.model.network import SkeletonTextModel
from skelprompt.pretrain.state import last_model_path


@dataclass
class BestEpoch:
    """The best epoch so far (1-based; 0 = none yet) and a copy of its weights."""

    score: float = -math.inf
    epoch: int = 0
    state: dict[str, torch.Tensor] | None = None

    def update(self, model: SkeletonTextModel, epoch: int, rec: dict[str, Any]) -> None:
        """Keep ``model``'s weights when ``rec['val_retrieval']`` is the best so far (ties go to
        the later epoch); write the kept epoch into ``rec['selected_epoch']``."""
        score = rec.get("val_retrieval")
        if score is not None and score >= self.score:
            self.score, self.epoch = float(score), epoch + 1
            self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if self.epoch:
            rec["selected_epoch"] = self.epoch

    @classmethod
    def restored(cls, state: dict[str, torch.Tensor], history: list[dict[str, Any]]) -> BestEpoch:
        """The record of a resumed run: ``state`` = the weights of its model file."""
        score = max(
            (h["val_retrieval"] for h in history if h.get("val_retrieval") is not None), default=-math.inf
        )
        epoch = int(history[-1].get("selected_epoch", 0)) if history else 0
        return cls(score, epoch, state if epoch else None)


def save_models(out: Path, model: SkeletonTextModel, best: BestEpoch,
                provenance: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Write ``out`` (the kept epoch, or the last when none is kept) and, when an epoch is
    kept, the last epoch beside it; return the checksum of the weights training continues from
    and the training state's ``extra`` record."""
    if best.state is None:
        save_model(out, model, provenance)
        return model_checksum(model), {"out": str(out)}
    last = last_model_path(out)
    save_model(last, model, provenance)
    sha = model_checksum(model)
    current = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best.state)
    save_model(out, model, provenance)
    model.load_state_dict(current)
    return sha, {"out": str(out), "last_model": str(last)}
