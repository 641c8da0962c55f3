"""Pose and tracking speed on vtest.avi: frames/s of MoveNet at 256 and 512 px, and the tracker.

    python benchmarks/bench_pose.py [--video PATH] [--frames 100] [--threads N]

Frames are decoded first (decode speed printed separately), so the pose numbers are the
model alone: letterbox + LiteRT inference + unletterbox.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from skelprompt.tracks import Tracker
from skelprompt.video.pose import get_backend
from skelprompt.video.reader import open_video

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "media" / "vtest.avi"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--video", default=str(DEFAULT_VIDEO if DEFAULT_VIDEO.exists() else "/work/shared/media/vtest.avi")
    )
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: min(8, cores))")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = ap.parse_args()

    t0 = time.perf_counter()
    with open_video(args.video, max_frames=args.frames) as reader:
        frames = [f.image for f in reader]
    dt = time.perf_counter() - t0
    h, w = frames[0].shape[:2]
    print(
        f"video {args.video}: {len(frames)} frames {w}x{h}; CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"decode            {len(frames) / dt:8.1f} frames/s")

    for size in args.sizes:
        pose = get_backend(input_size=size, num_threads=args.threads)
        for f in frames[:3]:  # warm up
            pose(f)
        t0 = time.perf_counter()
        dets = [pose(f) for f in frames]
        dt = time.perf_counter() - t0
        people = np.mean([d.num_people for d in dets])
        print(
            f"pose {size:4d} px     {len(frames) / dt:8.1f} frames/s  ({1000 * dt / len(frames):5.1f} ms/frame, {people:.2f} people/frame)"
        )

        tracker = Tracker()
        ids: set[int] = set()
        t0 = time.perf_counter()
        for i, d in enumerate(dets):
            ids.update(tracker.update(d.keypoints, d.scores, d.boxes, frame=i).tolist())
        dt = time.perf_counter() - t0
        print(f"tracking ({size} px) {len(frames) / dt:8.1f} frames/s  ({len(ids)} track ids)")


if __name__ == "__main__":
    main()
