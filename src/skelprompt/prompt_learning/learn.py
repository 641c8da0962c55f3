"""Learning the context vectors: on the pretraining pool, or on a user's few examples.

Both fit only the context (the skeleton model and the text encoder stay frozen) and work on
precomputed clip embeddings f(x) of the frozen skeleton model, with the model's learnt logit
scale 1 / tau, so the learned texts meet the skeleton embeddings where pretraining put them.

- Pool (CoOp proper): each step draws ``classes_per_step`` classes and up to ``batch_size`` of
  their clips; the loss is the cross-entropy of each clip's class among the drawn class texts
  (context + class name), as pretraining's skeleton -> text InfoNCE.
- Examples: the anomaly prompts compete with the normal anchors and the user's normal prompts
  in a softmax, as the detector's prompt evidence does (``scoring.softmax_evidence``); the loss
  is the balanced binary cross-entropy of that evidence (anomaly examples -> the anomaly
  prompts, normal clips -> the competitors), plus ``anchor_weight`` times the squared distance
  of the context to its starting point, which keeps a handful of examples from dragging it far.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from skelprompt.errors import ModelError
from skelprompt.prompt_learning.encoder import ContextEncoder
from skelprompt.prompts import NORMAL_ANCHORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnSettings:
    steps: int = 150
    lr: float = 2e-3  # Adam, on token embeddings whose entries are ~0.05
    batch_size: int = 256  # clips per step
    classes_per_step: int = 24  # pool: class texts per step (each one a transformer pass)
    anchor_weight: float = 1.0  # examples: pull towards the starting context
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.classes_per_step < 2:
            raise ValueError("steps and batch_size must be >= 1 and classes_per_step >= 2")
        if not (self.lr > 0 and math.isfinite(self.lr)) or not self.anchor_weight >= 0:
            raise ValueError(f"lr must be > 0 and anchor_weight >= 0, got {self.lr}, {self.anchor_weight}")


@dataclass
class LearnResult:
    losses: list[float] = field(default_factory=list)  # one per step

    @property
    def first_loss(self) -> float:
        return float(np.mean(self.losses[: max(1, len(self.losses) // 10)]))

    @property
    def last_loss(self) -> float:
        return float(np.mean(self.losses[-max(1, len(self.losses) // 10) :]))


Progress = Callable[[int, float], None] | None


def _optimise(
    enc: ContextEncoder, settings: LearnSettings, step_loss: Callable[[np.random.Generator], torch.Tensor],
    progress: Progress,
) -> LearnResult:  # fmt: skip
    opt = torch.optim.Adam([enc.context], lr=settings.lr)
    rng = np.random.default_rng(settings.seed)
    result = LearnResult()
    enc.train()
    for step in range(settings.steps):
        opt.zero_grad()
        loss = step_loss(rng)
        if not torch.isfinite(loss):
            raise ModelError(f"learning the context diverged at step {step + 1} (loss {float(loss)})")
        loss.backward()
        opt.step()
        result.losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, result.losses[-1])
    enc.eval()
    enc.forget()
    log.info("context learned: loss %.4f -> %.4f", result.first_loss, result.last_loss)
    return result


def learn_on_pool(
    enc: ContextEncoder,
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_texts: Sequence[str],
    scale: float,
    settings: LearnSettings | None = None,
    progress: Progress = None,
) -> LearnResult:
    """CoOp on labelled clip embeddings ``[N, D]`` (``labels`` index ``class_texts``; a text
    about two people, e.g. "two people hugging", gets the pair context)."""
    settings = settings or LearnSettings()
    emb = torch.from_numpy(np.asarray(embeddings, np.float32))
    labels = np.asarray(labels)
    if len(emb) != len(labels) or len(emb) == 0:
        raise ModelError(
            f"learning needs clips with one label each, got {len(emb)} clips, {len(labels)} labels"
        )
    present = np.unique(labels)
    if len(present) < 2:
        raise ModelError("learning on a pool needs clips of at least 2 classes")
    by_class = {int(c): np.flatnonzero(labels == c) for c in present}
    texts = list(class_texts)

    def step_loss(rng: np.random.Generator) -> torch.Tensor:
        classes = rng.choice(present, min(settings.classes_per_step, len(present)), replace=False)
        per = max(1, settings.batch_size // len(classes))
        rows, targets = [], []
        for j, c in enumerate(classes):
            idx = by_class[int(c)]
            pick = rng.choice(idx, min(per, len(idx)), replace=False)
            rows.append(pick)
            targets += [j] * len(pick)
        text = enc.embed([texts[int(c)] for c in classes])
        logits = scale * emb[np.concatenate(rows)] @ text.T
        return F.cross_entropy(logits, torch.tensor(targets))

    return _optimise(enc, settings, step_loss, progress)


def learn_on_examples(
    enc: ContextEncoder,
    anomaly_embeddings: np.ndarray,
    normal_embeddings: np.ndarray,
    prompts: Sequence[str],
    normal_prompts: Sequence[str],
    scale: float,
    settings: LearnSettings | None = None,
    progress: Progress = None,
) -> LearnResult:
    """Fit the context so that the anomaly examples' embeddings side with ``prompts`` and the
    normal clips' with the normal anchors and ``normal_prompts`` (see the module docstring)."""
    settings = settings or LearnSettings()
    if not prompts:
        raise ModelError("learning from anomaly examples needs at least one anomaly prompt")
    a = torch.from_numpy(np.asarray(anomaly_embeddings, np.float32))
    n = torch.from_numpy(np.asarray(normal_embeddings, np.float32))
    if len(a) == 0 or len(n) == 0:
        raise ModelError(f"learning needs anomaly and normal clips, got {len(a)} and {len(n)}")
    texts = list(dict.fromkeys([*prompts, *NORMAL_ANCHORS, *normal_prompts]))
    n_anom = len(dict.fromkeys(prompts))
    start = enc.context.detach().clone()

    def step_loss(rng: np.random.Generator) -> torch.Tensor:
        nb = n[rng.choice(len(n), min(settings.batch_size, len(n)), replace=False)]
        t = enc.embed(texts)
        evidence = []
        for x in (a, nb):
            logits = scale * x @ t.T
            evidence.append(torch.logsumexp(logits[:, :n_anom], 1) - torch.logsumexp(logits[:, n_anom:], 1))
        bce = F.softplus(-evidence[0]).mean() + F.softplus(evidence[1]).mean()
        return bce + settings.anchor_weight * ((enc.context - start) ** 2).sum()

    return _optimise(enc, settings, step_loss, progress)
