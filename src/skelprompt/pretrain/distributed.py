"""Data-parallel training across processes (``torchrun --nproc_per_node N``).

When the environment holds ``RANK`` and ``WORLD_SIZE`` > 1 (set by torchrun), the process
group is initialised with ``nccl`` on CUDA machines and ``gloo`` on CPU. Each process trains
on its own shard of every epoch (``DistributedSampler``); gradients are averaged by
``DistributedDataParallel``; only rank 0 logs and writes files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str | None = None) -> DistInfo:
    """Initialise the process group when launched by torchrun; a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if "RANK" not in os.environ or world <= 1:
        dev = device or "cpu"
        return DistInfo(device=dev)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (device or "").startswith("cuda") or (device is None and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
        dev = f"cuda:{local}"
    else:
        dev = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of an initialised process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``x`` (rows; sizes may differ) in rank order, gradients kept.

    The backward of ``torch.distributed.nn.functional.all_gather`` sums, on each rank, the
    gradients that all ranks computed for its rows. Every rank computes the same loss on the
    union batch, so a rank's rows receive ``world_size`` x dL/dx; DistributedDataParallel's
    gradient average (/ world_size) then leaves exactly the one-process gradient of the
    union-batch loss. A tensor without grad (labels, frozen text embeddings) is gathered the
    same way. Without an initialised process group, ``x`` is returned as is.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    rows = [int(s) for s in sizes]
    pad = max(rows) - x.shape[0]  # all_gather needs equal shapes: pad, gather, cut
    padded = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))]) if pad else x
    parts = all_gather(padded) if x.requires_grad else _gather_plain(padded)
    return torch.cat([p[:r] for p, r in zip(parts, rows, strict=True)])


def _gather_plain(x: torch.Tensor) -> list[torch.Tensor]:
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return out


def gather_batch(
    out: dict[str, torch.Tensor], labels: torch.Tensor, text: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """The union batch of all ranks for the loss: model outputs (with gradients), labels, texts."""
    used = {k: gather_rows(v) for k, v in out.items() if k in ("logits", "embedding")}
    return used, gather_rows(labels), gather_rows(text)


def autocast(device: str, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision for the forward pass: bf16 on CPU, fp16 on CUDA (the loss stays fp32)."""
    if not enabled:
        return contextlib.nullcontext()
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return torch.autocast(kind, dtype=torch.float16 if kind == "cuda" else torch.bfloat16)


def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: Any = None) -> None:
    """``loss.backward(); opt.step()``, through the fp16 gradient scaler when there is one."""
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
