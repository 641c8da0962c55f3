"""Pretraining throughput from a large PySKL file, and memory while streaming it.

Writes a synthetic PySKL annotation pickle (default 100,000 one-person coco17 clips of 32
frames, 60 classes: synthetic is fine for throughput), converts it once into shards (the step
that needs the whole pickle in memory), then trains the small model for a bounded number of
steps on the shard stream and prints clips/s and the process RSS every few steps: the goal is
a flat RSS, whatever the file's size.

    nice -n 10 python benchmarks/pretrain_pyskl_throughput.py --clips 100000 --steps 60
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_pickle(path: Path, clips: int, frames: int, classes: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 500, (17, 2)).astype(np.float32)
    anns = []
    for i in range(clips):
        walk = np.cumsum(rng.normal(0, 2, (frames, 1, 2)), axis=0).astype(np.float32)
        kp = (base[None] + walk + rng.normal(0, 1, (frames, 17, 2)).astype(np.float32))[None]
        anns.append({"frame_dir": f"clip{i:06d}", "label": i % classes, "img_shape": (720, 1280),
                     "total_frames": frames, "keypoint": kp,
                     "keypoint_score": np.full((1, frames, 17), 0.9, np.float32)})  # fmt: skip
    with open(path, "wb") as fh:
        pickle.dump({"split": {"train": [a["frame_dir"] for a in anns]}, "annotations": anns}, fh, protocol=4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=100_000)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from skelprompt.points import clips_to_batch
    from skelprompt.pretrain import distributed as ddp
    from skelprompt.pretrain.augment import build_augment
    from skelprompt.pretrain.config import PretrainConfig
    from skelprompt.pretrain.data import Pool
    from skelprompt.pretrain.loop import build_model, make_optimizer
    from skelprompt.pretrain.loss import pretrain_loss
    from skelprompt.pretrain.pyskl_source import PysklSpec, mixed_batches, open_stream

    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / "synthetic_pyskl.pkl"
        names = Path(tmp) / "names.txt"
        names.write_text("".join(f"synthetic action {i}\n" for i in range(60)))
        spec = PysklSpec(pkl, trust_pickle=True, label_names=str(names))
        # writing and converting hold the whole pickle: a child process, so that the RSS below
        # is the training process's own
        child = multiprocessing.get_context("fork").Process(
            target=_prepare, args=(spec, args.clips, args.frames)
        )
        child.start()
        child.join()
        cfg = PretrainConfig(frames=32, train_frames=16, batch_size=args.batch_size)
        pool = Pool([], np.zeros(0, np.int64), [], [], {})
        stream = open_stream(spec, pool, {}, 0, ddp.DistInfo(), None)  # the shards written above
        print(f"streaming {stream.num_clips} clips; RSS before training {rss_mib():.0f} MiB")
        _train(cfg, pool, stream, args, build_model, make_optimizer, pretrain_loss, build_augment,
               clips_to_batch, mixed_batches, replace)  # fmt: skip


def _prepare(spec, clips: int, frames: int) -> None:
    from skelprompt.pretrain import distributed as ddp
    from skelprompt.pretrain.data import Pool
    from skelprompt.pretrain.pyskl_source import open_stream

    t0 = time.time()
    write_pickle(spec.path, clips, frames, 60)
    print(
        f"wrote {clips} clips: {spec.path.stat().st_size / 2**20:.0f} MiB in {time.time() - t0:.0f} s",
        flush=True,
    )
    t0 = time.time()
    open_stream(spec, Pool([], np.zeros(0, np.int64), [], [], {}), {}, 0, ddp.DistInfo(), None)
    print(f"converted to shards in {time.time() - t0:.0f} s, peak RSS of writing + converting {peak_mib():.0f} MiB",
          flush=True)  # fmt: skip


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _train(cfg, pool, stream, args, build_model, make_optimizer, pretrain_loss, build_augment,
           clips_to_batch, mixed_batches, replace) -> None:  # fmt: skip
    model = build_model(cfg, pool.class_names, 384, "all-MiniLM-L6-v2").train()
    opt = make_optimizer(model, cfg)
    augment = build_augment(cfg.augment)
    pcfg = replace(model.cfg.points, frames=cfg.train_frames)
    rng = np.random.default_rng(0)
    text_bank = torch.nn.functional.normalize(torch.randn(len(pool.class_names), 384), dim=-1)
    t0 = time.time()
    seen = 0
    batches = mixed_batches(pool, np.zeros(0, np.int64), stream, 0, cfg.batch_size, cfg.seed)
    for step, (raw, labels) in enumerate(batches, 1):
        pts, mask = clips_to_batch([augment(c, rng) for c in raw], pcfg, rng)
        y = torch.from_numpy(labels)
        out = model(torch.from_numpy(pts), torch.from_numpy(mask))
        loss, _ = pretrain_loss(out, y, text_bank[y], model.logit_scale, 0.6, 0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(raw)
        if step % 5 == 0 or step == args.steps:
            dt = time.time() - t0
            print(f"step {step:4d}: {seen / dt:6.1f} clips/s, RSS {rss_mib():6.0f} MiB")
        if step >= args.steps:
            break
    print(f"training: {seen} clips in {time.time() - t0:.0f} s = {seen / (time.time() - t0):.1f} clips/s")


if __name__ == "__main__":
    main()
