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
import math
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from skelprompt import __version__
from skelprompt.errors import ModelError, SkelpromptError
from skelprompt.model.checkpoint import (
    load_model,
    load_tensors,
    model_checksum,
    read_safetensors_metadata,
    save_model,
    save_tensors,
)
from skelprompt.model.config import PRESETS, ModelConfig
from skelprompt.model.network import SkeletonTextModel
from skelprompt.points import PointConfig, clips_to_batch
from skelprompt.pretrain import distributed as ddp
from skelprompt.pretrain.augment import build_augment
from skelprompt.pretrain.config import PretrainConfig
from skelprompt.pretrain.data import Pool, TextBank, build_pool, class_descriptions, stratified_split
from skelprompt.pretrain.loss import clamp_logit_scale, pretrain_loss

STATE_FORMAT = "skelprompt-train-state"


def companion_paths(out: str | Path) -> tuple[Path, Path]:
    """``(train-state file, log file)`` beside the model file ``out``."""
    out = Path(out)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return out.with_name(stem + ".train-state.safetensors"), out.with_name(stem + ".log.jsonl")


# ----------------------------------------------------------------------------- optimizer state


def _optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
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
        "extra": json.dumps(extra),
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
    decay, no_decay = [], []
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

        sampler = DistributedSampler(
            range(n), num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed
        )
        sampler.set_epoch(epoch)
        return np.fromiter(iter(sampler), dtype=np.int64)
    return np.random.default_rng([cfg.seed, epoch, 7]).permutation(n)


@torch.no_grad()
def evaluate(
    model: SkeletonTextModel, pool: Pool, idx: np.ndarray, bank: TextBank, device: str
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
) -> tuple[SkeletonTextModel, dict[str, Any]]:
    """Pretrain and write ``out`` (+ companions); return the model and a summary dict.

    ``stop_after``: end this call after that many epochs (of the whole run) are done, e.g. for
    time-limited jobs; ``resume`` continues it with the same schedule."""
    info = ddp.setup(device)
    try:
        return _run(cfg, Path(out), data_root, resume, command, progress, info, stop_after)
    finally:
        ddp.cleanup(info)


def _run(cfg, out, data_root, resume, command, progress, info: ddp.DistInfo, stop_after=None):
    t_start = time.time()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    state = None
    if resume is not None:
        state_path, _ = companion_paths(resume)
        if not state_path.exists():
            raise SkelpromptError(f"cannot resume: no training state {state_path} beside {resume}")
        state = load_train_state(state_path)
        cfg = replace(state["config"], epochs=max(cfg.epochs, state["config"].epochs))
        cfg.check()
    state_path, log_path = companion_paths(out)

    pool = build_pool(cfg, data_root)
    train_idx, val_idx = stratified_split(pool.labels, cfg.val_fraction, cfg.seed)
    if len(train_idx) < 2:
        raise SkelpromptError(f"only {len(train_idx)} training clips: too few to pretrain")
    from skelprompt.model.text import get_text_encoder

    enc = get_text_encoder(PRESETS[cfg.preset].text_encoder)
    bank = TextBank(pool.class_names, enc, class_descriptions(data_root), cfg.description_p)

    model = build_model(cfg, pool.class_names, enc.dim, enc.name)
    history: list[dict] = []
    start_epoch, step = 0, 0
    if state is not None:
        prev = load_model(resume)
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
    net: torch.nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[info.local_rank] if info.device != "cpu" else None)

    augment = build_augment(cfg.augment)
    pcfg: PointConfig = replace(model.cfg.points, frames=cfg.train_frames or cfg.frames)
    per_rank = math.ceil(len(train_idx) / info.world_size)
    steps_per_epoch = max(1, math.ceil(per_rank / cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs
    if info.is_main:
        out.parent.mkdir(parents=True, exist_ok=True)
        if start_epoch == 0 and log_path.exists():
            log_path.unlink()
        counts = pool.counts()
        print(
            f"pretraining on {len(train_idx)} clips ({len(val_idx)} held out) of {', '.join(f'{k} {v}' for k, v in counts.items())};"
            f" {len(pool.class_names)} classes; {info.world_size} process(es); {cfg.epochs} epochs x {steps_per_epoch} steps",
            file=sys.stderr,
        )
    train_time = sum(h.get("epoch_time_s", 0.0) for h in history)
    clips_seen = sum(h.get("train_clips", 0) for h in history)
    last_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    for epoch in range(start_epoch, last_epoch):
        t0 = time.time()
        alpha = cfg.alpha_at(epoch)
        rng = np.random.default_rng([cfg.seed, epoch, info.rank])
        torch.manual_seed(cfg.seed * 100003 + epoch * 101 + info.rank)
        order = train_idx[epoch_order(len(train_idx), epoch, cfg, info)]
        net.train()
        sums: dict[str, float] = {}
        nb = 0
        bar = tqdm(total=len(order), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="clip",
                   disable=not (progress and info.is_main), leave=False)  # fmt: skip
        for i in range(0, len(order), cfg.batch_size):
            b = order[i : i + cfg.batch_size]
            if len(b) < 2:
                continue
            clips = [augment(pool.clips[j], rng) for j in b]
            pts, mask = clips_to_batch(clips, pcfg, rng)
            labels = pool.labels[b]
            text = bank.sample(labels, np.array([c.num_persons for c in clips]), rng)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total_steps, cfg)
            o = net(torch.from_numpy(pts).to(info.device), torch.from_numpy(mask).to(info.device))
            loss, parts = pretrain_loss(
                o, torch.from_numpy(labels).to(info.device), torch.from_numpy(text).to(info.device),
                model.logit_scale, alpha, cfg.label_smoothing,
            )  # fmt: skip
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            clamp_logit_scale(model.logit_scale)
            step += 1
            nb += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(len(b))
            bar.set_postfix(loss=f"{parts['loss']:.3f}")
        bar.close()
        dt = time.time() - t0
        train_time += dt
        clips_seen += len(order) * info.world_size
        rec: dict[str, Any] = {"epoch": epoch + 1, "alpha": alpha, "lr": lr_at(step - 1, total_steps, cfg)}
        rec.update({f"train_{k}": v / max(nb, 1) for k, v in sums.items()})
        rec.update({"epoch_time_s": dt, "train_clips": len(order) * info.world_size,
                    "clips_per_s": len(order) * info.world_size / max(dt, 1e-9),
                    "logit_scale": float(model.logit_scale.detach().exp())})  # fmt: skip
        if info.is_main:
            rec.update(evaluate(model, pool, val_idx, bank, info.device))
            history.append(rec)
            provenance = _provenance(cfg, pool, train_idx, val_idx, command, history, train_time, clips_seen,
                                     info, bank)  # fmt: skip
            model.cpu()
            save_model(out, model, provenance)
            sha = model_checksum(model)
            model.to(info.device)
            save_train_state(state_path, opt, epoch, step, cfg, history, sha, {"out": str(out)})
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
            msg = f"epoch {epoch + 1}/{cfg.epochs}: loss {rec.get('train_loss', float('nan')):.3f}"
            if "val_top1" in rec:
                msg += f", val top-1 {rec['val_top1']:.3f}, retrieval {rec['val_retrieval']:.3f}"
            print(msg + f" ({dt:.0f} s, {rec['clips_per_s']:.0f} clips/s)", file=sys.stderr)
        else:
            history.append(rec)
        ddp.barrier(info)
    model.cpu().eval()
    if cfg.checksum_dir:
        d = Path(cfg.checksum_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"rank{info.rank}.sha256").write_text(model_checksum(model) + "\n")
    summary = {
        "epochs": cfg.epochs,
        "train_clips": int(len(train_idx)),
        "val_clips": int(len(val_idx)),
        "classes": len(pool.class_names),
        "train_time_s": train_time,
        "wall_time_s": time.time() - t_start,
        "history": history,
    }
    return model, summary


def _provenance(cfg, pool: Pool, train_idx, val_idx, command, history, train_time, clips_seen, info, bank):
    last = history[-1] if history else {}
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
        "text_targets": {"descriptions": bank.num_descriptions, "description_p": cfg.description_p},
        "epochs_done": len(history),
        "epochs": cfg.epochs,
        "val_top1": last.get("val_top1"),
        "val_retrieval": last.get("val_retrieval"),
        "train_time_s": round(train_time, 1),
        "clips_per_s": round(clips_seen / max(train_time, 1e-9), 1),
        "world_size": info.world_size,
        "config": cfg.to_dict(),
    }
