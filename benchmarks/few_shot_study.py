"""Few-shot anomaly examples and learned prompts (issue 19): k-shot curves and zero-shot CoOp.

    python benchmarks/few_shot_study.py SEED_DIR [SEED_DIR ...] --data-root ../shared/data \
        --cache CACHE_DIR --out few_shot.json [--benchmarks sbu-violence ...] [--shots 0 1 2 5 10] [--draws 5]

Each SEED_DIR is a seed folder of scripts/seed_study.py (``models/without-<dataset>.safetensors``:
every encoder was pretrained without the benchmark's data set). Per benchmark and fold, the
default detector (DetectorConfig()) is fitted on the fold's normal clips and scored on its test
clips with the protocol's prompts (zero-shot), then with k anomaly examples drawn at random from
the training folds' anomalous clips (``Fold.train_anomalous``, never the test fold's), ``--draws``
draws per k. Rows: the default with exemplars at several exemplar weights, with exemplar
distances on the pose descriptor, the encoder features or both; OoD + exemplars (no prompt);
exemplars alone. ``--table ROW ...`` prints rows of --out as the README's markdown table.

Zero-shot CoOp: per leave-one-out encoder, a context is learned on the pretraining pool without
the benchmark's data set (``skelprompt prompts learn --exclude DATASET``, the zero-shot rule) and
the prompt evidence alone is compared with the hand-written templates (``prompts.py``), as is the
default detector with the learned prompt. With ``--coop-examples K``, the context is also learned
from the K drawn examples (starting from the pool context) and used with the exemplars.

Features are computed once per fold and cached under --cache (keyed by the model's checksum);
learned pool contexts are cached there too. Prints markdown tables; writes every AUC to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.few_shot import attach_exemplars
from skelprompt.evaluation.metrics import roc_auc
from skelprompt.evaluation.protocols import BENCHMARKS, Fold, get_benchmark, normal_prompts_for
from skelprompt.model import load_model, model_checksum
from skelprompt.model.network import SkeletonTextModel
from skelprompt.model.text import get_text_encoder
from skelprompt.prompt_learning.apply import with_learned_prompt
from skelprompt.prompt_learning.encoder import ContextEncoder, initial_context
from skelprompt.prompt_learning.file import LearnedPrompt, load_learned_prompt
from skelprompt.prompt_learning.learn import LearnSettings, learn_on_examples, learn_on_pool
from skelprompt.prompt_learning.pool import pool_embeddings

WEIGHTS = (0.5, 1.0, 2.0, 4.0)
EXEMPLAR_SOURCES = (("pose",), ("model",), ("pose", "model"))  # the default detector's sources
INIT = "a person is"
POOL_CLIPS_PER_CLASS = 16  # CoOp's 16 shots per class (the machine is shared: a short encoding pass)
Feats = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class ClipFeatures:
    """Every clip of a benchmark's folds encoded once (with mirrors), cached in one file."""

    def __init__(self, det: Detector, folds: list[Fold], path: Path) -> None:
        clips = list({id(c): c for f in folds for c in f.fit + f.test + f.train_anomalous}.values())
        self.row = {id(c): i for i, c in enumerate(clips)}
        if path.exists():
            z = np.load(path)
            self.all: Feats = (
                z["feats"],
                z["embs"],
                {k[6:]: z[k] for k in z.files if k.startswith("extra_")},
            )
            if len(self.all[0]) != len(clips):
                raise SystemExit(f"{path}: cached for another set of clips; remove it")
            return
        t = time.perf_counter()
        self.all = det.features(clips, for_fit=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        f, e, x = self.all
        np.savez(path, feats=f, embs=e, **{f"extra_{k}": v for k, v in x.items()})  # type: ignore[arg-type]
        say(f"  encoded {len(clips)} clips in {time.perf_counter() - t:.0f} s")

    def get(self, clips: list[Clip], for_fit: bool) -> Feats:
        f, e, x = take(self.all, np.array([self.row[id(c)] for c in clips], dtype=np.int64))
        return f, e, (x if for_fit else {k: v for k, v in x.items() if not k.endswith("_mirror")})


def take(feats: Feats, idx: np.ndarray) -> Feats:
    f, e, x = feats
    return f[idx], e[idx], {k: v[idx] for k, v in x.items()}


def pool_prompt(
    model: SkeletonTextModel, dataset: str, data_root: str, cache: Path, steps: int
) -> LearnedPrompt:
    """The context learned on the pretraining pool without ``dataset`` (cached)."""
    path = (
        cache
        / f"coop-without-{dataset}-{model_checksum(model)[:12]}-{steps}-{POOL_CLIPS_PER_CLASS}.safetensors"
    )
    if path.exists():
        return load_learned_prompt(path)
    t = time.perf_counter()
    pool = pool_embeddings(model, data_root, (dataset,), max_clips_per_class=POOL_CLIPS_PER_CLASS)
    base = get_text_encoder(model.cfg.text_encoder)
    enc = ContextEncoder(base, initial_context(base, INIT))
    scale = float(model.logit_scale.detach().exp().clamp(max=100.0))
    res = learn_on_pool(enc, pool.embeddings, pool.labels, pool.texts, scale, LearnSettings(steps=steps))
    lp = LearnedPrompt(enc.context.detach().clone(), base.name, {
        "mode": "pool", "datasets": pool.datasets, "excluded": [dataset], "steps": steps,
        "first_loss": res.first_loss, "last_loss": res.last_loss, "model_checksum": model_checksum(model),
    })  # fmt: skip
    lp.save(path)
    say(f"  pool context without {dataset}: loss {res.first_loss:.3f} -> {res.last_loss:.3f} "
        f"({len(pool.labels)} clips, {time.perf_counter() - t:.0f} s)")  # fmt: skip
    return lp


def bench_prompts(name: str) -> tuple[list[str], list[str]]:
    """The default run's prompts (runner._prompts): the protocol's, or its normal prompts."""
    bench = get_benchmark(name)
    anomaly = list(bench.prompts)
    return anomaly, ([] if anomaly else normal_prompts_for(bench))


def run_fold(
    name: str, fold: Fold, k_fold: int, feats: ClipFeatures, det: Detector, lp: LearnedPrompt | None,
    args: argparse.Namespace, rows: dict[str, dict[str, list[float]]],
) -> None:  # fmt: skip
    """Append this fold's AUCs to ``rows[label][draw key]``."""
    fit = feats.get(fold.fit, True)
    ft, et, xt = feats.get(fold.test, False)
    det.fit_features(*fit)
    prompts, normal = bench_prompts(name)
    y = fold.labels

    def add(label: str, draw: str, scores: np.ndarray) -> None:
        rows.setdefault(label, {}).setdefault(draw, []).append(roc_auc(y, scores))

    zs = det.score_features(ft, et, prompts, normal, extra=xt)
    add("0-shot: default (templates)", "-", zs.anomaly)
    add("0-shot: OoD only", "-", zs.p_ood)
    add("0-shot: prompt only, templates", "-", det.prompt_evidence(et, prompts, normal))
    coop = with_learned_prompt(det, lp) if lp is not None else None
    if coop is not None:
        add("0-shot: prompt only, CoOp (pool)", "-", coop.prompt_evidence(et, prompts, normal))
        add(
            "0-shot: default with CoOp (pool)",
            "-",
            coop.score_features(ft, et, prompts, normal, extra=xt).anomaly,
        )
    if not fold.train_anomalous:
        return
    anom = feats.get(fold.train_anomalous, True)
    n_anom = len(anom[0])
    arrays, dists = det._source_distances(ft, xt)
    pct = det.config.calibration_percentile
    for k in [s for s in args.shots if s > 0]:
        for d in range(args.draws):
            rng = np.random.default_rng([args.seed, list(BENCHMARKS).index(name), k_fold, k, d])
            idx = rng.choice(n_anom, min(k, n_anom), replace=False)
            for only in EXEMPLAR_SOURCES:
                attach_exemplars(det, fit[0], fit[2], *take(anom, idx)[::2], only=only)
                assert det.exemplars is not None
                # the same sum as score_features adds (tested), without recomputing the OoD term
                ex = det.exemplars.evidence(arrays, dists, pct)
                draw, on = str(d), "+".join(only)
                for w in WEIGHTS:
                    add(f"{k}-shot: default + {w:g} x exemplars[{on}]", draw, zs.anomaly + w * ex)
                    add(f"{k}-shot: OoD + {w:g} x exemplars[{on}]", draw, zs.p_ood + w * ex)
                add(f"{k}-shot: exemplars[{on}] only", draw, ex)
            if lp is not None and coop is not None and k in args.coop_examples and prompts:
                lp_k = examples_prompt(det, lp, anom[1][idx], fit[1], prompts, normal, args)
                ck = with_learned_prompt(det, lp_k)
                s2 = ck.score_features(ft, et, prompts, normal, extra=xt)
                add(f"{k}-shot: CoOp (examples) prompt only", draw, ck.prompt_evidence(et, prompts, normal))
                add(f"{k}-shot: default with CoOp (examples) + 1 x exemplars", draw, s2.anomaly)
            det.exemplars = None


def examples_prompt(
    det: Detector, lp: LearnedPrompt, anomaly_embs: np.ndarray, normal_embs: np.ndarray,
    prompts: list[str], normal: list[str], args: argparse.Namespace,
) -> LearnedPrompt:  # fmt: skip
    enc = lp.encoder()
    scale = float(det.model.logit_scale.detach().exp().clamp(max=100.0))
    settings = LearnSettings(steps=args.coop_example_steps)
    learn_on_examples(enc, anomaly_embs, normal_embs, prompts, normal, scale, settings)
    return LearnedPrompt(enc.context.detach().clone(), lp.text_encoder, {"mode": "examples"})


def summarise(rows: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Per row: the fold-mean AUC of each draw, then mean and std over draws."""
    out = {}
    for label, draws in rows.items():
        per_draw = [float(np.mean(v)) for v in draws.values()]
        out[label] = {
            "mean": statistics.fmean(per_draw),
            "std": statistics.stdev(per_draw) if len(per_draw) > 1 else 0.0,
            "draws": per_draw,
        }
    return out


def table(results: dict[str, Any], labels: list[str]) -> str:
    """A markdown table: one row per label, one column per benchmark (mean ± std over draws)."""
    names = [n for n in BENCHMARKS if any(k.endswith("/" + n) for k in results)]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label in labels:
        cells = []
        for n in names:
            r = next((v.get(label) for k, v in results.items() if k.endswith("/" + n)), None)
            cells.append(
                "-" if r is None else f"{r['mean']:.3f}" + (f" ± {r['std']:.3f}" if r["std"] else "")
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed_dirs", nargs="+", type=Path)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS))
    ap.add_argument("--shots", nargs="+", type=int, default=[0, 1, 2, 5, 10])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--coop-steps", type=int, default=LearnSettings().steps, help="0: no CoOp rows")
    ap.add_argument(
        "--coop-examples", nargs="*", type=int, default=[], help="k at which to learn from examples"
    )
    ap.add_argument("--coop-example-steps", type=int, default=30)
    ap.add_argument("--table", nargs="+", metavar="ROW", help="only print these rows of --out as a table")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text()), args.table))
        return
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    for seed_dir in args.seed_dirs:
        for name in args.benchmarks:
            run_key = f"{seed_dir.name}/{name}"
            if run_key in results:
                continue
            ds = get_benchmark(name).dataset
            path = seed_dir / "models" / f"without-{ds}.safetensors"
            if not path.with_suffix(".done").exists():
                say(f"{run_key}: {path.name} is not finished; skipped")
                continue
            t = time.perf_counter()
            model = load_model(path)
            lp = (
                pool_prompt(model, ds, args.data_root, args.cache, args.coop_steps)
                if args.coop_steps
                else None
            )
            rows: dict[str, dict[str, list[float]]] = {}
            folds = get_benchmark(name).load_folds(args.data_root)
            det = Detector(model, DetectorConfig())
            feats = ClipFeatures(det, folds, args.cache / f"feats-{name}-{model_checksum(model)[:12]}.npz")
            for i, fold in enumerate(folds):
                run_fold(name, fold, i, feats, det, lp, args, rows)
            results[run_key] = summarise(rows)
            args.out.write_text(json.dumps(results, indent=1))
            say(f"{run_key}: done in {time.perf_counter() - t:.0f} s")
            for label, r in results[run_key].items():
                print(f"  {label:55s} {r['mean']:.3f} ± {r['std']:.3f}")


if __name__ == "__main__":
    main()
