"""Data-parallel pretraining: two CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from skelprompt.model.checkpoint import load_model, model_checksum


def test_ddp_two_cpu_processes_agree(data_root, tmp_path):
    pytest.importorskip("torch.distributed.run")
    cfg = tmp_path / "tiny.yaml"
    sums = tmp_path / "sums"
    cfg.write_text(
        "frames: 8\ntrain_frames: 8\nbatch_size: 8\nmax_clips_per_dataset: 24\nepochs: 1\nstage1_epochs: 0\n"
        f"warmup_steps: 1\nnum_threads: 1\nchecksum_dir: {sums}\n"
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
