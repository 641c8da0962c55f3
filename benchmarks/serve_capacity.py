"""How many cameras `skelprompt serve` keeps up with, how soon alerts appear, and a soak.

    python benchmarks/serve_capacity.py [--detector D] [--sizes 256 512] [--max-cameras 6] [--seconds 40]
    python benchmarks/serve_capacity.py --soak-minutes 30            # 4 cameras, RSS and alert counts
    python benchmarks/serve_capacity.py --profile --sizes 256 --pose-fps 5 --seconds 30  # where the time goes

Cameras are the bundled clips played as cameras at their frame rate, looping: camera 1 is the
Sports2D clip (30 fps; it alerts on "a person falling down", which gives the latencies), the
others the 10 fps street clip. A camera keeps up when it processes at least 90 % of
min(pose fps, source fps) and drops no frame after the warm-up. Latency: from the moment the
last frame of the first alerting window was filmed to the alert row being in the database
(what GET /api/alerts returns), and from the last alerting frame to the closed alert with its
clip. Without --detector one is fitted on the street clip first (the README's first command).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skelprompt.service.config import CameraSpec, ServiceConfig
from skelprompt.service.service import Service

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "skelprompt" / "examples"
WARM_UP_S = 15.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cameras(n: int) -> list[CameraSpec]:
    first = [CameraSpec("sports2d", str(EXAMPLES / "sports2d_demo_cut.mp4"))]
    return (first + [CameraSpec(f"street{i}", str(EXAMPLES / "vtest_8s.mp4")) for i in range(1, n)])[:n]


@contextmanager
def running(det: Path, specs: list[CameraSpec], size: int, pose_fps: float, db: Path) -> Iterator[Service]:
    """A started service on looping file cameras (prompt "a person falling down"), stopped after."""
    config = ServiceConfig(
        detector=det, cameras=specs, prompts=["a person falling down"], db=str(db),
        pose_fps=pose_fps, pose_input=size, loop=True,
    )  # fmt: skip
    service = Service(config)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def run(det: Path, n: int, size: int, pose_fps: float, seconds: float, folder: Path) -> dict[str, float]:
    """Run ``n`` cameras for ``seconds``; figures after the warm-up."""
    db = folder / f"bench-{n}-{size}-{time.time_ns()}.sqlite"
    with running(det, cameras(n), size, pose_fps, db) as service:
        time.sleep(WARM_UP_S)
        start = {c.spec.name: (c.counts.processed, c.counts.dropped) for c in service.cameras.values()}
        seen = service.events.last
        rss0 = rss_mb()
        time.sleep(seconds)
        rss1 = rss_mb()
        out: dict[str, float] = {"rss_mb": rss1, "rss_growth_mb": rss1 - rss0}
        rates, dropped = [], 0
        for c in service.cameras.values():
            p0, d0 = start[c.spec.name]
            rates.append((c.counts.processed - p0) / seconds / min(pose_fps, c.source_fps or pose_fps))
            dropped += c.counts.dropped - d0
        events = [e for _, e in service.events.since(seen) if e["type"] == "alert"]
        opened = [e["latency_s"] for e in events if e["state"] == "open"]
        closed = [e["latency_s"] for e in events if e["state"] == "closed"]
        out.update(min_rate=min(rates), dropped=dropped, alerts=len(opened))
        out["open_latency_s"] = statistics.median(opened) if opened else float("nan")
        out["closed_latency_s"] = statistics.median(closed) if closed else float("nan")
        out["kept_up"] = float(min(rates) >= 0.9 and dropped == 0)
        return out


def profile(det: Path, n: int, size: int, pose_fps: float, seconds: float, folder: Path) -> None:
    """CPU time of the whole process per frame in and per pose frame (``n`` street cameras of
    10 fps, every thread: decoding, pose, scoring, evidence), and where the cameras' time goes."""
    specs = [CameraSpec(f"street{i}", str(EXAMPLES / "vtest_8s.mp4")) for i in range(n)]
    with running(det, specs, size, pose_fps, folder / f"profile-{time.time_ns()}.sqlite") as service:
        time.sleep(WARM_UP_S)
        cams = list(service.cameras.values())

        def totals() -> tuple[float, int, int, dict[str, float], float]:
            stages: dict[str, float] = {}
            for c in cams:
                for k, v in c.stages.seconds.items():
                    stages[k] = stages.get(k, 0.0) + v
            frames_in = sum(c.counts.frames_in for c in cams)
            done = sum(c.counts.processed for c in cams)
            return time.process_time(), frames_in, done, stages, service.evidence.seconds

        cpu0, in0, done0, st0, ev0 = totals()
        time.sleep(seconds)
        cpu1, in1, done1, st1, ev1 = totals()
    n_in, n_done = max(1, in1 - in0), max(1, done1 - done0)
    cpu_ms = (cpu1 - cpu0) * 1000
    print(f"pose {size} at {pose_fps:g} fps, {n} camera(s) of 10 fps, {seconds:g} s: {n_in} frames in, "
          f"{n_done} through pose; CPU {cpu_ms / n_in:.1f} ms per frame in, {cpu_ms / n_done:.1f} ms per pose "
          f"frame, {cpu_ms / seconds / 1000 / n:.2f} cores per camera")  # fmt: skip
    parts = {k: (v - st0.get(k, 0.0)) * 1000 / n_done for k, v in st1.items()}
    parts["evidence clips (worker)"] = (ev1 - ev0) * 1000 / n_done
    print("  wall ms per pose frame: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))


def soak(det: Path, minutes: float, size: int, pose_fps: float, folder: Path) -> None:
    end = time.monotonic() + minutes * 60
    warm = time.monotonic() + min(60.0, minutes * 12)
    rss_warm = None
    with running(det, cameras(4), size, pose_fps, folder / "soak.sqlite") as service:
        while time.monotonic() < end:
            time.sleep(5)
            if rss_warm is None and time.monotonic() >= warm:
                rss_warm = rss_mb()
            print(f"{minutes * 60 - (end - time.monotonic()):6.0f} s  RSS {rss_mb():7.1f} MB", flush=True)
    events = [e for _, e in service.events.since(0) if e["type"] == "alert"]
    opened = {e["id"] for e in events if e["state"] == "open"}
    store = Service(service.config).store  # reopened: what a restart sees
    rows = store.alerts(limit=100000)
    keys = [r.key for r in rows]
    print(f"soak {minutes:g} min, 4 cameras, pose {size} at {pose_fps:g} fps")
    print(
        f"RSS after warm-up {rss_warm:.1f} MB, at the end {rss_mb():.1f} MB, growth {rss_mb() - (rss_warm or 0):.1f} MB"
    )
    print(f"alerts opened {len(opened)}, in the database {len(rows)}, lost {len(opened - {r.id for r in rows})}, "
          f"duplicated {len(keys) - len(set(keys))}")  # fmt: skip
    for c in service.cameras.values():
        print(f"  {c.spec.name}: {c.counts.frames_in} frames in, {c.counts.processed} processed, "
              f"{c.counts.dropped} dropped, {c.counts.skipped} skipped (pose fps)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", type=Path)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--max-cameras", type=int, default=6)
    ap.add_argument("--pose-fps", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--soak-minutes", type=float)
    ap.add_argument("--profile", action="store_true", help="CPU per frame and per stage, then stop")
    ap.add_argument("--cameras", type=int, default=1, help="with --profile: how many cameras")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        det = args.detector
        if det is None:
            det = folder / "street.safetensors"
            fit = [
                sys.executable,
                "-m",
                "skelprompt.cli",
                "fit",
                str(EXAMPLES / "vtest_8s.mp4"),
                "--out",
                str(det),
            ]
            subprocess.run(fit, check=True, capture_output=True)
        if args.profile:
            for size in args.sizes:
                profile(det, args.cameras, size, args.pose_fps, args.seconds, folder)
            return
        if args.soak_minutes:
            soak(det, args.soak_minutes, args.sizes[0], args.pose_fps, folder)
            return
        for size in args.sizes:
            for n in range(1, args.max_cameras + 1):
                r = run(det, n, size, args.pose_fps, args.seconds, folder)
                print(
                    f"pose {size} at {args.pose_fps:g} fps, {n} camera(s): kept up {bool(r['kept_up'])}, "
                    f"slowest camera {r['min_rate']:.0%} of its rate, {r['dropped']:.0f} dropped, "
                    f"{r['alerts']:.0f} alerts, latency open {r['open_latency_s']:.2f} s / closed "
                    f"{r['closed_latency_s']:.2f} s, RSS {r['rss_mb']:.0f} MB",
                    flush=True,
                )
                if not r["kept_up"]:
                    break


if __name__ == "__main__":
    main()
