"""The pretraining loss of METHOD.md, Eq. 5-9.

L = alpha * CE(logits, labels) + (1 - alpha) * (L_s2t + L_t2s) / 2

with CLIP-style InfoNCE over the batch: ``s_ij = exp(logit_scale) * cos(f(x_i), y_j)``
(``exp(logit_scale)`` = 1 / tau, clamped at 100), ``y_i`` the text embedding of clip i's
class. Clips of the same class are not negatives: for anchor i, every j != i of the same
class is removed from the softmax denominator (row i for skeleton -> text, column i for
text -> skeleton), so only true pairs and other-class pairs compete.

``multi_positive=True`` (the bundled recipe) instead treats every same-class pair as a
positive: the target of row i is spread evenly over the texts of clip i's class in the batch
(and of column j over the clips of text j's class), a soft cross-entropy. With every class
once in the batch both forms are the plain InfoNCE.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_LOGIT_SCALE = 100.0


def contrastive_loss(
    emb: torch.Tensor,
    text: torch.Tensor,
    labels: torch.Tensor,
    logit_scale: torch.Tensor,
    multi_positive: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(L_cont, L_s2t, L_t2s)``. ``emb [B, D]`` and ``text [B, D]`` L2-normalised."""
    scale = logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)
    logits = scale * emb @ text.t()  # [B, B]: skeleton i vs text j
    same = labels[:, None] == labels[None, :]
    if multi_positive:
        target = same.to(logits.dtype)
        target = target / target.sum(1, keepdim=True)  # symmetric: rows and columns alike
        l_s2t = -(target * F.log_softmax(logits, 1)).sum(1).mean()
        l_t2s = -(target * F.log_softmax(logits.t(), 1)).sum(1).mean()
        return (l_s2t + l_t2s) / 2, l_s2t, l_t2s
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    blocked = same & ~eye  # same class, not the pair itself: not a negative
    logits = logits.masked_fill(blocked, float("-inf"))
    target = torch.arange(len(labels), device=emb.device)
    l_s2t = F.cross_entropy(logits, target)
    l_t2s = F.cross_entropy(logits.t(), target)
    return (l_s2t + l_t2s) / 2, l_s2t, l_t2s


def pretrain_loss(
    out: dict[str, torch.Tensor],
    labels: torch.Tensor,
    text: torch.Tensor,
    logit_scale: torch.Tensor,
    alpha: float,
    label_smoothing: float = 0.0,
    multi_positive: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 5: ``alpha * CE + (1 - alpha) * L_cont``. Both terms are always computed (the
    contrastive one with weight 0 in stage 1) so every parameter takes part in the graph
    (DistributedDataParallel needs that)."""
    ce = F.cross_entropy(out["logits"], labels, label_smoothing=label_smoothing)
    cont, s2t, t2s = contrastive_loss(out["embedding"], text, labels, logit_scale, multi_positive)
    loss = alpha * ce + (1.0 - alpha) * cont
    parts = {
        k: float(v.detach())
        for k, v in (("loss", loss), ("ce", ce), ("cont", cont), ("s2t", s2t), ("t2s", t2s))
    }
    return loss, parts


def clamp_logit_scale(param: torch.Tensor) -> None:
    """Keep ``exp(logit_scale) <= 100`` in the stored parameter too (as CLIP does)."""
    with torch.no_grad():
        param.clamp_(max=math.log(MAX_LOGIT_SCALE))
