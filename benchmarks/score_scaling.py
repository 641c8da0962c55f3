"""Scaling of `skelprompt score` over an archive: 8 short videos on 1 worker, 2 workers and a
local Ray cluster with 2 workers, timed in one run.

Run: python benchmarks/score_scaling.py [--video ../shared/media/vtest.avi] [--frames 40]
(Ray: pip install "skelprompt[cluster]"; without it the Ray row is skipped.)

Cuts 8 clips of --frames frames from the video (and a normal clip to fit the detector on)
into a temporary folder, then runs the CLI three times. Prints each run's wall time (the
whole command: start-up, loading, scoring) and the scoring time the command reports, with
the speed-up against one worker, and checks that the three runs give the same scores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = 8


def cut(src: str, out: Path, start: int, frames: int) -> None:
    import cv2

    cap = cv2.VideoCapture(src)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit(f"{src}: fewer than {start + frames} frames")
        if writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, cap.get(cv2.CAP_PROP_FPS), frame.shape[1::-1])
        writer.write(frame)
    if writer is not None:
        writer.release()


def cli(*args: str) -> tuple[float, str]:
    """Run `skelprompt ARGS`; (wall seconds, stdout)."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"skelprompt {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - start, r.stdout


def scores(path: Path) -> dict[str, list[float | None]]:
    data = json.loads(path.read_text())
    return {Path(v["source"]).name: [w["anomaly"] for w in v["windows"]] for v in data["videos"]}


def same(a: dict[str, list[float | None]], b: dict[str, list[float | None]]) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        return x == y or (x is not None and y is not None and abs(x - y) <= 1e-9 * max(1.0, abs(x)))

    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(close(x, y) for x, y in zip(a[k], b[k], strict=True)) for k in a
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(ROOT.parent / "shared" / "media" / "vtest.avi"))
    ap.add_argument("--frames", type=int, default=40, help="frames per clip")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "videos").mkdir()
        cut(args.video, tmp / "normal.mp4", 0, 100)
        for i in range(VIDEOS):
            cut(args.video, tmp / "videos" / f"clip_{i}.mp4", 100 + i * args.frames, args.frames)
        det = tmp / "det.safetensors"
        cli("fit", str(tmp / "normal.mp4"), "--out", str(det))
        runs = [("--workers 1", ["--workers", "1"]), ("--workers 2", ["--workers", "2"])]
        if find_spec("ray") is not None:
            runs.append(("--ray local --workers 2", ["--ray", "local", "--workers", "2"]))
        print(f"{VIDEOS} videos of {args.frames} frames ({Path(args.video).name}), {os.cpu_count()} cores")
        print(f"{'run':<26} {'wall s':>7} {'scoring s':>9} {'speed-up (wall)':>15} {'same scores':>11}")
        first_wall, first_scores = None, None
        for name, extra in runs:
            out = tmp / f"{name.replace(' ', '_')}.json"
            wall, stdout = cli(
                "score", str(tmp / "videos"), "--detector", str(det), "--json", str(out), *extra
            )
            found = re.search(r"failed, .*?, ([0-9.]+) s", stdout)
            scoring = float(found.group(1)) if found else float("nan")
            first_wall = first_wall or wall
            got = scores(out)
            first_scores = first_scores or got
            print(
                f"{name:<26} {wall:7.1f} {scoring:9.1f} {first_wall / wall:15.2f} {str(same(got, first_scores)):>11}"
            )


if __name__ == "__main__":
    main()
