"""The whole chain on a real video: pose -> tracking -> windows -> scores, timed stage by stage.

Run: python benchmarks/bench_video.py [--video ../shared/media/vtest.avi] [--input-size 512] [--frames 300]
Prints, from one run: decode, pose, tracking and scoring frames/s, the end-to-end rate as a
multiple of the video's real-time rate, and the share of time spent after pose.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from skelprompt.detector import Detector
from skelprompt.footage.scoring import score_windows
from skelprompt.footage.video import FALLBACK_FPS
from skelprompt.footage.windows import cut_windows, normal_windows
from skelprompt.model import load_model, untrained_model
from skelprompt.tracks import Tracker, clip_from_frames
from skelprompt.video.pose import get_backend
from skelprompt.video.reader import open_video

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", default=str(ROOT.parent / "shared" / "media" / "vtest.avi"))
    ap.add_argument("--input-size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    backend = get_backend(input_size=args.input_size)
    tracker = Tracker()
    t_decode = t_pose = t_track = 0.0
    per_frame: list[tuple[np.ndarray | None, np.ndarray, np.ndarray]] = []
    with open_video(args.video, max_frames=args.frames) as reader:
        fps, (h, w) = reader.fps or FALLBACK_FPS, reader.size
        it = iter(reader)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            t1 = time.perf_counter()
            if frame is None:
                break
            found = backend(frame.image)
            t2 = time.perf_counter()
            ids = tracker.update(found.keypoints, found.scores, found.boxes, frame=frame.index)
            t3 = time.perf_counter()
            per_frame.append((ids, found.keypoints, found.scores))
            t_decode, t_pose, t_track = t_decode + t1 - t0, t_pose + t2 - t1, t_track + t3 - t2
    n = len(per_frame)
    t0 = time.perf_counter()
    clip = clip_from_frames(
        per_frame, 17, 3, layout=backend.layout, fps=fps, img_shape=(h, w), source=args.video
    )
    if clip is None:
        raise SystemExit(f"{args.video}: nobody detected in {n} frames")
    t_track += time.perf_counter() - t0
    try:
        model = load_model()
        which = "bundled"
    except Exception:
        model, which = untrained_model(), "untrained"
    half = clip.frames(0, n // 2)
    det = Detector(model).fit(normal_windows([half]))
    det.text_encoder().encode(["people fighting"])  # load the text model outside the timing
    t0 = time.perf_counter()
    windows = cut_windows(clip)
    rows, _ = score_windows(det, windows, ["people fighting"])
    t_score = time.perf_counter() - t0
    total = t_decode + t_pose + t_track + t_score
    persons = sum(len(w.persons) for w in rows)
    print(f"{Path(args.video).name}: {n} frames at {fps:g} fps, {w}x{h}, pose input {args.input_size}, "
          f"{clip.num_persons} tracks, {len(windows)} windows, {persons} person-windows, {which} model")  # fmt: skip
    for name, t in (
        ("decode", t_decode),
        ("pose", t_pose),
        ("tracking", t_track),
        ("windows + scoring", t_score),
    ):
        print(f"{name:18s} {n / t:9.1f} frames/s  ({t:6.2f} s)")
    e2e = n / total
    print(
        f"end to end         {e2e:9.1f} frames/s = {e2e / fps:.2f} x real time, {e2e / (n / t_pose):.2f} x pose-only speed"
    )
    print(f"after pose (tracking + scoring): {100 * (t_track + t_score) / t_pose:.1f}% of the pose time")


if __name__ == "__main__":
    main()
