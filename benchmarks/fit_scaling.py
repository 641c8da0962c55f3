"""Time and peak memory of `skelprompt fit` as the normal set grows, then of scoring 2,000 windows.

Run: python benchmarks/fit_scaling.py [--sizes 1000 4000 10000 40000] [--bank-sizes default 0]
     [--threads 2] [--workdir /tmp/fit-scaling]

Normal sets are one-person 16-frame windows from benchmarks/make_normal_windows.py (written
once per size into --workdir). Each fit and score runs the real CLI in a child process, and
its peak resident memory is that child's own (os.wait4), so the figures are what a user sees.
Bank sizes: "default" (the detector's default: exact up to it, a coreset above) and numbers
(0 = every row, exact). Prints one row per size and bank; ratios from one run compare.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from skelprompt.detector import DetectorConfig

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "skelprompt.cli"]


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """``(seconds, peak RSS in MiB)`` of one child process; exits on failure."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def windows_file(workdir: Path, count: int, seed: int, env: dict[str, str]) -> Path:
    path = workdir / f"normal-{count}-seed{seed}.pkl"
    if not path.exists():
        gen = [sys.executable, str(HERE / "make_normal_windows.py"), str(count), "--out", str(path)]
        subprocess.run([*gen, "--seed", str(seed)], env=env, check=True, stdout=subprocess.DEVNULL)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 10000, 40000])
    ap.add_argument("--bank-sizes", nargs="+", default=["default", "0"])
    ap.add_argument("--score", type=int, default=2000, help="Windows scored with each detector.")
    ap.add_argument("--threads", type=int, default=2, help="Threads of each child (OMP_NUM_THREADS).")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fit-scaling"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    to_score = windows_file(args.workdir, args.score, 1, env)
    default = DetectorConfig().bank_size
    print(f"threads {args.threads}, default bank size {default}, scoring {args.score} windows", flush=True)
    print("| normal windows | bank size | fit s | fit peak RSS MiB | score s | score peak RSS MiB |")
    print("|---|---|---|---|---|---|", flush=True)
    for n in args.sizes:
        normal = windows_file(args.workdir, n, 0, env)
        for bank in args.bank_sizes:
            det = args.workdir / f"detector-{n}-{bank}.safetensors"
            fit = [*CLI, "fit", str(normal), "--trust-pickle", "--out", str(det)]
            fit += [] if bank == "default" else ["--bank-size", bank]
            fit_s, fit_mib = run_measured(fit, env)
            score = [*CLI, "score", str(to_score), "--trust-pickle", "--detector", str(det), "--top", "1"]
            score_s, score_mib = run_measured(score, env)
            label = f"{default} (default)" if bank == "default" else ("all (exact)" if bank == "0" else bank)
            print(
                f"| {n:,} | {label} | {fit_s:.0f} | {fit_mib:.0f} | {score_s:.0f} | {score_mib:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
