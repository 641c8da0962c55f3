"""Data-parallel pretraining: two CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from skelprompt.model.checkpoint import load_model, model_checksum

FAULT_WORKER = Path(__file__).with_name("pretrain_fault_worker.py")


def test_ddp_two_cpu_processes_agree(data_root, tmp_path):
    pytest.importorskip("torch.distributed.run")
    cfg = tmp_path / "tiny.yaml"
    sums = tmp_path / "sums"
    cfg.write_text(
        "frames: 8\ntrain_frames: 8\nbatch_size: 8\nmax_clips_per_dataset: 24\nepochs: 1\nstage1_epochs: 0\n"
        f"warmup_steps: 1\nnum_threads: 1\nchecksum_dir: {sums}\n"
        "texts: names\ncontrastive: mask\nsplit: clip\nselect: last\nsynth_pairs: 0\ndescription_p: 0.3\n"
    )
    out = tmp_path / "ddp.safetensors"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
        "-m", "skelprompt.cli", "pretrain", "--data-root", str(data_root), "--include", "k3hi",
        "--include", "jhmdb", "--config", str(cfg), "--out", str(out), "--no-progress", "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    wall = time.time() - t0
    assert res.returncode == 0, res.stderr[-3000:]
    ranks = sorted(p.name for p in sums.iterdir())
    assert ranks == ["rank0.sha256", "rank1.sha256"]
    s0, s1 = ((sums / r).read_text().strip() for r in ranks)
    assert s0 == s1
    model = load_model(out)  # written by rank 0 only, the same weights
    assert model_checksum(model) == s0
    assert model.provenance["world_size"] == 2
    print(f"DDP test wall time {wall:.1f} s")


def _grads_on_rank(rank: int, world: int, init_file: str, rows: list[int], data: str, out_dir: str) -> None:
    """One rank of the gather test: its rows of the batch, DDP, the gathered loss, backward."""
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    z = np.load(data)
    lo, hi = sum(rows[:rank]), sum(rows[: rank + 1])
    model = _tiny_model(int(z["classes"]), z["text"].shape[1])
    net = DistributedDataParallel(model)
    loss, grads = _loss_and_grads(net, model, {k: z[k][lo:hi] for k in ("pts", "mask", "labels", "text")})
    np.savez(f"{out_dir}/rank{rank}.npz", loss=loss, **grads)
    dist.destroy_process_group()


def _tiny_model(num_classes: int, text_dim: int):
    from skelprompt.pretrain.config import PretrainConfig
    from skelprompt.pretrain.loop import build_model

    model = build_model(PretrainConfig(frames=8), [f"c{i}" for i in range(num_classes)], text_dim, "minilm")
    return model.eval()  # dropout off: the same function on any split of the batch (no batch norm)


def _loss_and_grads(net, model, batch):
    import torch

    from skelprompt.pretrain import distributed as ddp
    from skelprompt.pretrain.loss import pretrain_loss

    t = {k: torch.from_numpy(v) for k, v in batch.items()}
    o, y, text = ddp.gather_batch(net(t["pts"], t["mask"]), t["labels"], t["text"])
    loss, _ = pretrain_loss(o, y, text, model.logit_scale, alpha=0.6, label_smoothing=0.1)
    loss.backward()
    return float(loss.detach()), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


def test_gathered_loss_and_gradients_match_one_process(tmp_path):
    """2 gloo ranks (7 + 5 clips) give the loss and, after DDP's averaging, the gradients of
    one process on the union batch of 12 clips."""
    import numpy as np
    import torch
    import torch.multiprocessing as mp

    from skelprompt.points import PointConfig, clips_to_batch
    from tests.helpers import sbu_clips

    clips = sbu_clips()[::20][:12]
    names = sorted({str(c.label) for c in clips})
    pts, mask = clips_to_batch(clips, PointConfig(frames=8))
    text = np.random.default_rng(0).normal(size=(12, 16)).astype(np.float32)
    batch = {"pts": pts, "mask": mask, "labels": np.array([names.index(str(c.label)) for c in clips]),
             "text": text / np.linalg.norm(text, axis=1, keepdims=True)}  # fmt: skip
    np.savez(tmp_path / "batch.npz", classes=len(names), **batch)
    torch.set_num_threads(1)
    model = _tiny_model(len(names), 16)
    loss, grads = _loss_and_grads(model, model, batch)
    mp.spawn(_grads_on_rank, args=(2, str(tmp_path / "init"), [7, 5], str(tmp_path / "batch.npz"), str(tmp_path)),
             nprocs=2, join=True)  # fmt: skip
    for r in range(2):
        got = np.load(tmp_path / f"rank{r}.npz")
        assert abs(float(got["loss"]) - loss) < 1e-5
        for n, g in grads.items():
            np.testing.assert_allclose(got[n], g, rtol=1e-4, atol=1e-6, err_msg=n)
    # the test can fail: each rank's own half alone gives another loss
    half, _ = _loss_and_grads(model, model, {k: v[:7] for k, v in batch.items()})
    assert abs(half - loss) > 1e-3


@pytest.mark.slow  # three short runs (two under torchrun): about a minute
def test_torchrun_restart_resumes_to_the_uninterrupted_weights(data_root, tmp_path):
    """A worker that dies after epoch 1 is restarted by torchrun (--max-restarts 1); the restart
    continues from the training state and ends with the uninterrupted run's weights."""
    tiny: dict[str, Any] = dict(frames=8, train_frames=8, batch_size=8, max_clips_per_dataset=24, epochs=3, stage1_epochs=1,
                warmup_steps=1, num_threads=1, datasets=("k3hi",), texts="names", contrastive="mask", split="clip",
                select="last", synth_pairs=0, description_p=0.3)  # fmt: skip
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text("".join(f"{k}: {list(v) if isinstance(v, tuple) else v}\n" for k, v in tiny.items()))
    out = tmp_path / "restarted.safetensors"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "--max-restarts", "1",
        str(FAULT_WORKER), str(cfg_file), str(data_root), str(out),
    ]  # fmt: skip
    # the worker (the real loop) dies right after epoch 1, from a callback of the test's own
    # worker script (no race with a kill from outside under load); torchrun restarts it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "restarted.log.jsonl"
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "restart" in err.lower() or "exitcode" in err.lower(), err[-3000:]  # the worker did die
    assert [ln.count('"epoch": ') for ln in log.read_text().splitlines()] == [1, 1, 1]
    # the uninterrupted run in a fresh process too, so no state of earlier tests in this process
    # (thread pools, global flags) can make the two differ
    full = tmp_path / "full.safetensors"
    plain = [sys.executable, "-m", "skelprompt.cli", "pretrain", "--data-root", str(data_root), "--config",
             str(cfg_file), "--out", str(full), "--no-progress", "--device", "cpu"]  # fmt: skip
    done = subprocess.run(plain, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert model_checksum(load_model(out)) == model_checksum(load_model(full))
