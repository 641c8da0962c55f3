"""Seed study: pretrain the leave-one-out models of a recipe with several seeds, benchmark each
seed, and report every method's ROC-AUC as mean ± std over the seeds.

    python scripts/seed_study.py --config configs/pretrain_default.yaml --seeds 0 1 2 \
        --data-root ../shared/data --out study/default

Layout under --out: ``seed{S}/models/without-{DATASET}.safetensors`` (the benchmark command's
cache layout, so ``SKELPROMPT_CACHE=OUT/seed{S}`` finds them), ``seed{S}/bench.json`` and
``summary.md`` / ``summary.json``. Finished models (marked by a ``.done`` file) and benchmark files are reused, so
an interrupted study continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

# the data sets left out for the six benchmarks (evaluation/protocols.py)
LEAVE_OUT = ("sbu", "k3hi", "msr", "urfd", "jhmdb", "nw_ucla")
CLI = [sys.executable, "-m", "skelprompt.cli"]


def pretrain(config: Path, seed: int, dataset: str, data_root: str, out: Path, extra: list[str]) -> None:
    model = out / f"seed{seed}" / "models" / f"without-{dataset}.safetensors"
    done = model.with_suffix(".done")  # the model file exists from the first epoch on
    if done.exists():
        return
    model.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*CLI, "pretrain", "--data-root", data_root, "--config", str(config), "--exclude", dataset]
    cmd += ["--seed", str(seed), "--out", str(model), "--no-progress", *extra]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    done.write_text(" ".join(cmd) + "\n")


def benchmark(seed: int, data_root: str, out: Path, extra: list[str]) -> dict:
    path = out / f"seed{seed}" / "bench.json"
    if not path.exists():
        cmd = [*CLI, "benchmark", "all", "--data-root", data_root, "--no-peer", "--json", str(path), *extra]
        print("+", " ".join(cmd), flush=True)
        env = {**os.environ, "SKELPROMPT_CACHE": str(out / f"seed{seed}")}
        subprocess.run(cmd, check=True, env=env)
    return json.loads(path.read_text())


WORST_PHRASING = "prompt study: worst phrasing, prompt only"


def worst_phrasing(bench: dict) -> float | None:
    """The lowest prompt-only AUC over the prompt study's phrasings of one intent."""
    sets = (bench.get("prompt_study") or {}).get("sets", {})
    aucs = [s["prompt_only"]["mean"] for s in sets.values() if s.get("kind") == "phrasing"]
    return min(aucs) if aucs else None


def summarise(runs: dict[int, dict]) -> dict[str, dict[str, dict[str, Any]]]:
    """{benchmark: {method: {mean, std, n, per_seed...}}} over seeds of the fold-mean AUC."""
    table: dict[str, dict[str, list[float]]] = {}
    for run in runs.values():
        for b in run["benchmarks"]:
            for method, r in b["results"].items():
                table.setdefault(b["benchmark"], {}).setdefault(method, []).append(r["auc"]["mean"])
            worst = worst_phrasing(b)
            if worst is not None:
                table[b["benchmark"]].setdefault(WORST_PHRASING, []).append(worst)
    return {
        bench: {
            m: {
                "mean": statistics.fmean(v),
                "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                "n": len(v),
                "seeds": v,
            }
            for m, v in methods.items()
        }
        for bench, methods in table.items()
    }


def markdown(summary: dict, seeds: list[int]) -> str:
    benches = list(summary)
    methods: list[str] = []
    for b in benches:
        methods += [m for m in summary[b] if m not in methods]
    lines = [
        f"ROC-AUC, mean ± std over pretraining seeds {seeds} (each seed: fold-mean AUC)",
        "",
        "| method | " + " | ".join(benches) + " |",
        "|---|" + "---|" * len(benches),
    ]
    for m in methods:
        cells = []
        for b in benches:
            r = summary[b].get(m)
            cells.append("-" if r is None else f"{r['mean']:.3f} ± {r['std']:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", nargs="+", default=list(LEAVE_OUT))
    ap.add_argument("--pretrain-arg", action="append", default=[], help="extra pretrain argument")
    ap.add_argument("--benchmark-arg", action="append", default=[], help="extra benchmark argument")
    ap.add_argument("--pretrain-only", action="store_true")
    args = ap.parse_args()
    for seed in args.seeds:
        for ds in args.datasets:
            pretrain(args.config, seed, ds, args.data_root, args.out, args.pretrain_arg)
    if args.pretrain_only:
        return
    runs = {s: benchmark(s, args.data_root, args.out, args.benchmark_arg) for s in args.seeds}
    summary = summarise(runs)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    text = markdown(summary, args.seeds)
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
