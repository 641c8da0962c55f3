"""The pretraining loop: stage 1 (alpha = 1), then Eq. 5 with alpha = 0.6; SGD or AdamW with
linear warm-up and linear decay; held-out validation every epoch; checkpoints that resume.

Files written (by rank 0 only), for ``--out DIR/NAME.safetensors``:

- ``NAME.safetensors``: the model in the core format (weights + config + provenance), written
  after every epoch, so an interrupted run leaves the last finished epoch;
- ``NAME.train-state.safetensors``: the optimizer state as tensors, with the epoch, the
  pretraining config and the history as JSON metadata (no pickle);
- ``NAME.log.jsonl``: one JSON object per epoch (train loss parts, val top-1 and retrieval
  accuracy, lr, time, clips/s).

Randomness is derived from (seed, epoch, rank) at the start of every epoch, so a run resumed
after epoch k continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from skelprompt.errors import SkelpromptError
from skelprompt.model.checkpoint import load_model, model_checksum
from skelprompt.model.config import PRESETS, ModelConfig
from skelprompt.model.network import SkeletonTextModel
from skelprompt.points import PointConfig, clips_to_batch
from skelprompt.pretrain import distributed as ddp
from skelprompt.pretrain.augment import build_augment
from skelprompt.pretrain.config import PretrainConfig
from skelprompt.pretrain.data import Pool, TextBank, build_pool, class_descriptions
from skelprompt.pretrain.loss import clamp_logit_scale, pretrain_loss
from skelprompt.pretrain.provenance import pretrain_provenance
from skelprompt.pretrain.pyskl_source import PysklSpec, PysklStream, mixed_batches, open_stream
from skelprompt.pretrain.selection import BestEpoch, save_models
from skelprompt.pretrain.split import split_pool
from skelprompt.pretrain.state import companion_paths, load_train_state, restart_resume, save_train_state
from skelprompt.pretrain.synth_pairs import with_synthetic_pairs
from skelprompt.pretrain.texts import RichTextBank, make_text_bank

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- pieces


def build_model(
    cfg: PretrainConfig, class_names: list[str], text_dim: int, text_encoder: str
) -> SkeletonTextModel:
    if cfg.preset not in PRESETS:
        raise SkelpromptError(f"unknown preset {cfg.preset!r}; presets: {', '.join(PRESETS)}")
    base = PRESETS[cfg.preset]
    mc = ModelConfig.from_dict(
        {
            **base.to_dict(),
            "num_classes": len(class_names),
            "class_names": list(class_names),
            "text_dim": text_dim,
            "text_encoder": text_encoder,
            "points": replace(base.points, frames=cfg.frames).to_dict(),
        }
    )
    torch.manual_seed(cfg.seed)
    return SkeletonTextModel(mc)


def make_optimizer(model: torch.nn.Module, cfg: PretrainConfig) -> torch.optim.Optimizer:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "logit_scale" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


def lr_at(step: int, total: int, cfg: PretrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then linear decay to 0 at ``total``."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    return cfg.lr * warm * max(0.0, 1.0 - step / max(1, total))


def epoch_order(n: int, epoch: int, cfg: PretrainConfig, info: ddp.DistInfo) -> np.ndarray:
    """This rank's training order for ``epoch`` (a DistributedSampler shard when distributed)."""
    if info.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler: DistributedSampler[int] = DistributedSampler(
            range(n),  # type: ignore[arg-type]  # any sized sequence works num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed
        )
        sampler.set_epoch(epoch)
        return np.fromiter(iter(sampler), dtype=np.int64)
    return np.random.default_rng([cfg.seed, epoch, 7]).permutation(n)


@torch.no_grad()
def evaluate(
    model: SkeletonTextModel, pool: Pool, idx: np.ndarray, bank: TextBank | RichTextBank, device: str
) -> dict[str, float]:
    """Held-out top-1 (classifier) and text-retrieval accuracy (nearest class-name embedding)."""
    if len(idx) == 0:
        return {}
    model.eval()
    pcfg = model.cfg.points
    correct_cls = correct_ret = 0
    cls_emb = torch.from_numpy(bank.class_embeddings).to(device)
    for i in range(0, len(idx), 128):
        b = idx[i : i + 128]
        pts, mask = clips_to_batch([pool.clips[j] for j in b], pcfg)
        out = model(torch.from_numpy(pts).to(device), torch.from_numpy(mask).to(device))
        y = torch.from_numpy(pool.labels[b]).to(device)
        correct_cls += int((out["logits"].argmax(1) == y).sum())
        correct_ret += int(((out["embedding"] @ cls_emb.t()).argmax(1) == y).sum())
    return {
        "val_top1": correct_cls / len(idx),
        "val_retrieval": correct_ret / len(idx),
        "val_clips": len(idx),
    }


# ----------------------------------------------------------------------------- the loop


def run_pretrain(
    cfg: PretrainConfig,
    out: str | Path,
    data_root: str | Path | None = None,
    resume: str | Path | None = None,
    command: str | None = None,
    progress: bool = True,
    device: str | None = None,
    stop_after: int | None = None,
    pyskl: PysklSpec | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> tuple[SkeletonTextModel, dict[str, Any]]:
    """Pretrain and write ``out`` (+ companions); return the model and a summary dict.

    ``stop_after``: end this call after that many epochs (of the whole run) are done, e.g. for
    time-limited jobs; ``resume`` continues it with the same schedule, as a torchrun restart does
    by itself. ``pyskl``: a PySKL file or shard folder streamed alongside the data sets.
    ``on_epoch_end(epoch)`` (0-based) is called on every process once an epoch's files are
    written and all processes have reached that point."""
    info = ddp.setup(device)
    if resume is None:
        resume = restart_resume(out)
    try:
        return _run(
            cfg, Path(out), data_root, resume, command, progress, info, stop_after, pyskl, on_epoch_end
        )
    finally:
        ddp.cleanup(info)


@dataclass
class _Training:
    """What one pretraining run carries from epoch to epoch."""

    cfg: PretrainConfig
    out: Path
    info: ddp.DistInfo
    pool: Pool
    train_idx: np.ndarray
    val_idx: np.ndarray
    bank: TextBank | RichTextBank
    model: SkeletonTextModel
    opt: torch.optim.Optimizer
    state_path: Path
    log_path: Path
    command: str | None
    start_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_time: float = 0.0
    clips_seen: int = 0
    stream: PysklStream | None = None  # --pyskl: streamed clips mixed into every epoch
    scaler: Any = None  # torch.amp.GradScaler for fp16 on CUDA
    best: BestEpoch = field(default_factory=BestEpoch)  # select == "best": the epoch kept


def _run(
    cfg: PretrainConfig,
    out: Path,
    data_root: str | Path | None,
    resume: str | Path | None,
    command: str | None,
    progress: bool,
    info: ddp.DistInfo,
    stop_after: int | None = None,
    pyskl: PysklSpec | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> tuple[SkeletonTextModel, dict[str, Any]]:
    t_start = time.time()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    random.seed(cfg.seed)  # every source of randomness follows the seed (data order, augment, init)
    np.random.seed(cfg.seed % 2**32)
    torch.manual_seed(cfg.seed)
    run = _start(cfg, out, data_root, resume, command, info, pyskl)
    cfg, model = run.cfg, run.model
    net: torch.nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[info.local_rank] if info.device != "cpu" else None)
    per_rank = math.ceil(len(run.train_idx) / info.world_size) + (run.stream.per_rank if run.stream else 0)
    steps_per_epoch = max(1, math.ceil(per_rank / cfg.batch_size))
    if info.is_main:
        out.parent.mkdir(parents=True, exist_ok=True)
        if run.start_epoch == 0 and run.log_path.exists():
            run.log_path.unlink()
        counts = run.pool.counts()
        log.info(
            f"pretraining on {len(run.train_idx)} clips ({len(run.val_idx)} held out) of {', '.join(f'{k} {v}' for k, v in counts.items())};"
            f" {len(run.pool.class_names)} classes; {info.world_size} process(es); {cfg.epochs} epochs x {steps_per_epoch} steps"
        )
    last_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    for epoch in range(run.start_epoch, last_epoch):
        t0 = time.time()
        rec = _train_epoch(run, net, epoch, steps_per_epoch * cfg.epochs, progress)
        _end_epoch(run, epoch, rec, time.time() - t0)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    if run.best.state is not None:  # select == "best": hand back the kept epoch's weights
        model.load_state_dict(run.best.state)
    model.cpu().eval()
    if cfg.checksum_dir:
        d = Path(cfg.checksum_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"rank{info.rank}.sha256").write_text(model_checksum(model) + "\n")
    summary = {
        "epochs": cfg.epochs,
        "train_clips": int(len(run.train_idx)),
        "val_clips": int(len(run.val_idx)),
        "classes": len(run.pool.class_names),
        "train_time_s": run.train_time,
        "wall_time_s": time.time() - t_start,
        "history": run.history,
        "selected_epoch": run.best.epoch or len(run.history),
    }
    return model, summary


def _start(
    cfg: PretrainConfig,
    out: Path,
    data_root: str | Path | None,
    resume: str | Path | None,
    command: str | None,
    info: ddp.DistInfo,
    pyskl: PysklSpec | None = None,
) -> _Training:
    """Data, text bank, model and optimiser; restored from ``resume``'s training state if given."""
    state = None
    if resume is not None:
        resume_state, _ = companion_paths(resume)
        if not resume_state.exists():
            raise SkelpromptError(f"cannot resume: no training state {resume_state} beside {resume}")
        state = load_train_state(resume_state)
        cfg = replace(state["config"], epochs=max(cfg.epochs, state["config"].epochs))
        cfg.check()
    state_path, log_path = companion_paths(out)

    pool = with_synthetic_pairs(build_pool(cfg, data_root), cfg)
    descriptions = class_descriptions(data_root)
    stream = open_stream(pyskl, pool, descriptions, cfg.seed, info, data_root) if pyskl else None
    train_idx, val_idx = split_pool(pool, cfg.val_fraction, cfg.seed, cfg.split)
    if len(train_idx) + (stream.num_clips if stream else 0) < 2:
        raise SkelpromptError(f"only {len(train_idx)} training clips: too few to pretrain")
    from skelprompt.model.text import get_text_encoder

    enc = get_text_encoder(PRESETS[cfg.preset].text_encoder)
    bank = make_text_bank(cfg, pool, enc, data_root, descriptions)

    model = build_model(cfg, pool.class_names, enc.dim, enc.name)
    start_epoch, step, history = 0, 0, []
    best: dict[str, torch.Tensor] | None = None
    if state is not None and resume is not None:
        last = state["extra"].get("last_model")
        prev = load_model(last if last and Path(last).exists() else resume)
        if cfg.select == "best":
            best = load_model(resume).state_dict()
        if list(prev.cfg.class_names) != pool.class_names:
            raise SkelpromptError(f"cannot resume {resume}: its classes differ from this run's data")
        if state["model_checksum"] and model_checksum(prev) != state["model_checksum"]:
            raise SkelpromptError(f"cannot resume {resume}: the model file does not match its training state")
        model.load_state_dict(prev.state_dict())
        start_epoch, step, history = state["epoch"] + 1, state["step"], state["history"]
    model.to(info.device)
    opt = make_optimizer(model, cfg)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
    run = _Training(cfg, out, info, pool, train_idx, val_idx, bank, model, opt, state_path, log_path, command,
                    start_epoch, step, history, stream=stream)  # fmt: skip
    run.scaler = torch.amp.GradScaler("cuda") if cfg.amp and info.device.startswith("cuda") else None
    run.train_time = sum(h.get("epoch_time_s", 0.0) for h in history)
    if best is not None and history:
        run.best = BestEpoch.restored(best, history)
    run.clips_seen = sum(h.get("train_clips", 0) for h in history)
    return run


def _train_epoch(
    run: _Training, net: torch.nn.Module, epoch: int, total_steps: int, progress: bool
) -> dict[str, Any]:
    """One pass over this rank's share of the training clips; returns the epoch's record."""
    cfg, info, model, opt, pool = run.cfg, run.info, run.model, run.opt, run.pool
    alpha = cfg.alpha_at(epoch)
    rng = np.random.default_rng([cfg.seed, epoch, info.rank])
    torch.manual_seed(cfg.seed * 100003 + epoch * 101 + info.rank)
    order = run.train_idx[epoch_order(len(run.train_idx), epoch, cfg, info)]
    augment = build_augment(cfg.augment)
    pcfg: PointConfig = replace(model.cfg.points, frames=cfg.train_frames or cfg.frames)
    net.train()
    sums: dict[str, float] = {}
    nb = 0
    bar = tqdm(total=len(order) + (run.stream.per_rank if run.stream else 0), unit="clip", leave=False,
               desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and info.is_main))  # fmt: skip
    for raw, labels in mixed_batches(pool, order, run.stream, epoch, cfg.batch_size, cfg.seed):
        if len(raw) < 2:
            continue
        clips = [augment(c, rng) for c in raw]
        pts, mask = clips_to_batch(clips, pcfg, rng)
        text = run.bank.sample(labels, np.array([c.num_persons for c in clips]), rng)
        for g in opt.param_groups:
            g["lr"] = lr_at(run.step, total_steps, cfg)
        with ddp.autocast(info.device, cfg.amp):
            o = net(torch.from_numpy(pts).to(info.device), torch.from_numpy(mask).to(info.device))
        # the union batch of all ranks: every negative of every rank (exact gradients, see gather_rows)
        o, y, t = ddp.gather_batch({k: v.float() for k, v in o.items()}, torch.from_numpy(labels).to(info.device),
                                   torch.from_numpy(text).to(info.device))  # fmt: skip
        loss, parts = pretrain_loss(o, y, t, model.logit_scale, alpha, cfg.label_smoothing,
                                    multi_positive=cfg.contrastive == "multi")  # fmt: skip
        opt.zero_grad(set_to_none=True)
        ddp.backward_step(loss, opt, run.scaler)
        clamp_logit_scale(model.logit_scale)
        run.step += 1
        nb += 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.update(len(raw))
        bar.set_postfix(loss=f"{parts['loss']:.3f}")
    bar.close()
    rec: dict[str, Any] = {"epoch": epoch + 1, "alpha": alpha, "lr": lr_at(run.step - 1, total_steps, cfg)}
    rec.update({f"train_{k}": v / max(nb, 1) for k, v in sums.items()})
    rec["train_clips"] = (len(order) + (run.stream.per_rank if run.stream else 0)) * info.world_size
    return rec


def _end_epoch(run: _Training, epoch: int, rec: dict[str, Any], dt: float) -> None:
    """Timing, validation, the model file, the training state and the log line (main rank)."""
    cfg, info, model = run.cfg, run.info, run.model
    run.train_time += dt
    run.clips_seen += rec["train_clips"]
    train_clips = rec.pop("train_clips")
    rec.update({"epoch_time_s": dt, "train_clips": train_clips, "clips_per_s": train_clips / max(dt, 1e-9),
                "logit_scale": float(model.logit_scale.detach().exp())})  # fmt: skip
    if info.is_main:
        rec.update(evaluate(model, run.pool, run.val_idx, run.bank, info.device))
        if cfg.select == "best":
            run.best.update(model, epoch, rec)
        run.history.append(rec)
        provenance = pretrain_provenance(cfg, run.pool, run.train_idx, run.val_idx, run.command, run.history,
                                 run.train_time, run.clips_seen, info, run.bank)  # fmt: skip
        model.cpu()
        sha, extra = save_models(run.out, model, run.best, provenance)
        model.to(info.device)
        save_train_state(run.state_path, run.opt, epoch, run.step, cfg, run.history, sha, extra)
        with open(run.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        msg = f"epoch {epoch + 1}/{cfg.epochs}: loss {rec.get('train_loss', float('nan')):.3f}"
        if "val_top1" in rec:
            msg += f", val top-1 {rec['val_top1']:.3f}, retrieval {rec['val_retrieval']:.3f}"
        if "selected_epoch" in rec:
            msg += f", kept epoch {rec['selected_epoch']}"
        log.info(msg + f" ({dt:.0f} s, {rec['clips_per_s']:.0f} clips/s)")
    else:
        run.history.append(rec)
    ddp.barrier(info)
