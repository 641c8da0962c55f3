"""Pretraining the skeleton-text model (METHOD.md Eq. 5-9): data pool, augmentation, loss, loop."""

from skelprompt.pretrain.config import DEFAULT_DATASETS, AugmentConfig, PretrainConfig
from skelprompt.pretrain.loop import run_pretrain
from skelprompt.pretrain.loss import contrastive_loss, pretrain_loss

__all__ = [
    "DEFAULT_DATASETS",
    "AugmentConfig",
    "PretrainConfig",
    "contrastive_loss",
    "pretrain_loss",
    "run_pretrain",
]
