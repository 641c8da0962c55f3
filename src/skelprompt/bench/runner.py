"""Run one benchmark: the method's variants, the untrained-encoder control, the baselines, the
learned peer, prompt studies and (optionally) robustness, into one JSON-able dict.

Features are computed once per clip and model and reused by every fold and variant.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.bench import baselines as B
from skelprompt.bench.metrics import evaluate, mean_std
from skelprompt.bench.peer import peer_scores
from skelprompt.bench.protocols import Benchmark, Fold, get_benchmark, normal_prompts_for
from skelprompt.bench.robustness import conditions, corrupt
from skelprompt.clip import Clip
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.errors import ModelError
from skelprompt.model import extract_features, get_text_encoder, model_checksum, untrained_model
from skelprompt.scoring import prompt_score, standardised

SCHEMA_VERSION = 1
PROVENANCE_DATASET_KEYS = (
    "datasets",
    "pretrain_datasets",
    "train_datasets",
    "pretraining_datasets",
    "sources",
    "data",
)
_ALIASES = {"nw_ucla": ("nw_ucla", "ucla", "nw-ucla", "northwestern-ucla")}


# ---------------------------------------------------------------- leave-out check
def pretraining_datasets(provenance: dict[str, Any]) -> list[str] | None:
    """The data set names a model's provenance says it was pretrained on (None: not recorded)."""
    found: list[str] = []
    seen = False
    for key in PROVENANCE_DATASET_KEYS:
        v = provenance.get(key)
        if v is None:
            continue
        seen = True
        if isinstance(v, dict):
            found += [str(k) for k in v]
        elif isinstance(v, list | tuple):
            for x in v:
                found.append(str(x.get("name", x)) if isinstance(x, dict) else str(x))
        else:
            found.append(str(v))
    pre = provenance.get("pretrain")
    if isinstance(pre, dict):
        sub = pretraining_datasets(pre)
        if sub is not None:
            seen = True
            found += sub
    return found if seen else None


def check_leave_out(provenance: dict[str, Any], dataset: str) -> str:
    """Check the zero-shot rule: a model used on ``dataset`` must not be pretrained on it.

    Returns 'untrained', 'verified' or 'unverified' (provenance lists no data sets); raises
    :class:`ModelError` when the provenance lists ``dataset`` (or does not exclude it).
    """
    if provenance.get("untrained"):
        return "untrained"
    names = pretraining_datasets(provenance)
    aliases = {a.lower() for a in _ALIASES.get(dataset, (dataset,))}
    excluded = (
        provenance.get("excluded_datasets") or provenance.get("exclude") or provenance.get("excluded") or []
    )
    if isinstance(excluded, str):
        excluded = [excluded]
    if names is None:
        if any(str(e).lower() in aliases for e in excluded):
            return "verified"
        return "unverified"
    used = [n for n in names if n.lower().split("/")[0].split(":")[0] in aliases]
    if used:
        raise ModelError(
            f"the model was pretrained on {used[0]!r}: it is not valid for a benchmark on {dataset} "
            f"(zero-shot rule: pretrain without the benchmark's data set, e.g. "
            f"`skelprompt pretrain --exclude {dataset} ...`)"
        )
    return "verified"


# ---------------------------------------------------------------- the product's variants
# (name, config, which normal prompts): "protocol" = the benchmark's own prompts only,
# "study" = plus the templated names of the normal classes as normal prompts
DETECTOR_VARIANTS: list[tuple[str, DetectorConfig, str]] = [
    ("skelprompt default", DetectorConfig(), "protocol"),
    ("skelprompt default + normal prompts", DetectorConfig(), "study"),
    ("skelprompt default, OoD only", DetectorConfig(combine="ood"), "protocol"),
    ("skelprompt pose+random + normal prompts", DetectorConfig(ood_features="pose+random"), "study"),
    ("skelprompt model + normal prompts", DetectorConfig(ood_features="model"), "study"),
    ("skelprompt pose (swap+mirror) OoD only", DetectorConfig(ood_features="pose", combine="ood"), "protocol"),
    ("skelprompt default, paper product", DetectorConfig(combine="paper"), "protocol"),
]  # fmt: skip


# ---------------------------------------------------------------- helpers
class FeatureCache:
    """(features, embeddings) per clip object and model, computed in one batch per request."""

    def __init__(self, model) -> None:
        self.model = model
        self.store: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.keep: list[Clip] = []  # keep clips alive so ids stay unique
        self.seconds = 0.0
        self.count = 0

    def get(self, clips: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
        todo = list({id(c): c for c in clips if id(c) not in self.store}.values())
        if todo:
            t = time.perf_counter()
            f, e = extract_features(self.model, todo)
            self.seconds += time.perf_counter() - t
            self.count += len(todo)
            for c, fi, ei in zip(todo, f, e, strict=True):
                self.store[id(c)] = (fi, ei)
                self.keep.append(c)
        return (
            np.stack([self.store[id(c)][0] for c in clips]),
            np.stack([self.store[id(c)][1] for c in clips]),
        )


def _persons(folds: list[Fold]) -> int:
    return max(c.num_persons for f in folds for c in f.fit + f.test)


def _summarise(per_fold: list[dict]) -> dict:
    out: dict[str, Any] = {"folds": per_fold}
    out["auc"] = mean_std([f["auc"] for f in per_fold])
    out["far@90"] = mean_std([f["far@90"] for f in per_fold])
    classes = sorted({c for f in per_fold for c in f.get("per_class", {})})
    if classes:
        out["per_class"] = {
            c: mean_std([f["per_class"][c] for f in per_fold if c in f.get("per_class", {})]) for c in classes
        }
    return out


class _Text:
    def __init__(self, model) -> None:
        self.enc = get_text_encoder(model.cfg.text_encoder)

    def __call__(self, texts: list[str] | tuple[str, ...] | None) -> np.ndarray | None:
        if not texts:
            return None
        return self.enc.encode(list(texts)).astype(np.float64)


def _std_ood(det: Detector, ft: np.ndarray) -> np.ndarray:
    return standardised(det.ood_distance(ft), det.normal_ood, det.config.calibration_percentile)


def _std_prompt(ef: np.ndarray, et: np.ndarray, ya, yn) -> np.ndarray:
    return standardised(prompt_score(et, ya, yn), prompt_score(ef, ya, yn), 99.0)


# ---------------------------------------------------------------- the run
def run_benchmark(
    name: str,
    data_root: str | os.PathLike[str] | None = None,
    model=None,
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    *,
    control: bool = True,
    baselines: bool = True,
    peer: bool = True,
    prompt_study: bool = True,
    robustness: bool = False,
    max_folds: int | None = None,
    seed: int = 0,
    check_model: bool = True,
    detector_variants: list[tuple[str, DetectorConfig, str]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Everything for one benchmark; see the module docstring. ``model=None`` = untrained only.

    ``detector_variants``: (name, DetectorConfig, normal prompts: "protocol" | "study") run
    end to end through :class:`Detector` (default: :data:`DETECTOR_VARIANTS`).
    """
    if detector_variants is None:
        detector_variants = DETECTOR_VARIANTS
    t_start = time.perf_counter()
    say = log or (lambda s: None)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    bench: Benchmark = get_benchmark(name)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    folds = bench.load_folds(data_root)
    if max_folds is not None:
        folds = folds[:max_folds]
    timings["load"] = time.perf_counter() - t
    persons = _persons(folds)

    ctrl_model = untrained_model("small", seed=0)
    method_model = model if model is not None else ctrl_model
    provenance = dict(getattr(method_model, "provenance", {}) or {})
    leave_out = check_leave_out(provenance, bench.dataset) if check_model else "not checked"

    anomaly_prompts = list(prompts) if prompts is not None else list(bench.prompts)
    if normal_prompts is None:
        normal_prompts = [] if anomaly_prompts else normal_prompts_for(bench)
    study_normal = normal_prompts_for(bench)

    models = {"method": method_model}
    if control and model is not None and model_checksum(model) != model_checksum(ctrl_model):
        models["untrained"] = ctrl_model
    caches = {k: FeatureCache(m) for k, m in models.items()}
    text = _Text(method_model)
    ya, yn = text(anomaly_prompts), text(normal_prompts)
    yn_study = text(study_normal)

    results: dict[str, list[dict]] = {}
    study: dict[str, list[dict]] = {}
    base_cache: dict = {}
    robust: dict[str, dict[str, list[dict]]] = {}
    t_base = t_peer = t_score = 0.0

    def add(store: dict, key: str, fold: Fold, scores: np.ndarray) -> None:
        store.setdefault(key, []).append(
            {"fold": fold.name, **evaluate(fold.labels, np.asarray(scores), fold.classes)}
        )

    for fold in folds:
        say(f"{name} {fold.name}: fit {len(fold.fit)} normal clips, test {len(fold.test)}")
        if len(fold.fit) < 3:
            raise ModelError(f"{name} {fold.name}: only {len(fold.fit)} normal clips to fit on")
        dets: dict[tuple[str, str], Detector] = {}
        for mk, cache in caches.items():
            ff, ef = cache.get(fold.fit)
            ft, et = cache.get(fold.test)
            t = time.perf_counter()
            prefix = "" if mk == "method" else "untrained "
            add(results, f"{prefix}prompt", fold, prompt_score(et.astype(np.float64), ya, yn))
            for ood in ("knn", "mahalanobis"):
                det = Detector(
                    cache.model,
                    DetectorConfig(ood=ood, ood_features="model", symmetric=False),
                    text_encoder=text.enc,
                ).fit_features(ff, ef)
                dets[(mk, ood)] = det
                for combine in ("ood", "sum", "paper"):
                    det.config.combine = combine
                    sc = det.score_features(ft, et, anomaly_prompts or None, normal_prompts or None)
                    label = f"{prefix}ood[{ood}]" if combine == "ood" else f"{prefix}full-{combine}[{ood}]"
                    add(results, label, fold, sc.anomaly)
                det.config.combine = "sum"
            t_score += time.perf_counter() - t

        # the product: skelprompt's Detector with its options, end to end on the clips
        if detector_variants:
            t = time.perf_counter()
            for vname, cfg, normal_kind in detector_variants:
                pn = study_normal if normal_kind == "study" else normal_prompts
                det = Detector(method_model, cfg, text_encoder=text.enc).fit(fold.fit)
                sc = det.score(fold.test, anomaly_prompts or None, pn or None)
                add(results, vname, fold, sc.anomaly)
            t_score += time.perf_counter() - t

        # baselines and the learned peer
        if baselines or peer or robustness:
            t = time.perf_counter()
            bs = B.baseline_scores(fold.fit, fold.test, persons, bench.two_person, base_cache)
            if baselines:
                for k, v in bs.items():
                    add(results, f"baseline: {k}", fold, v)
                if fold.test[0].keypoint3d is not None:
                    fm = [B.metres_view(c) for c in fold.fit]
                    tm = [B.metres_view(c) for c in fold.test]
                    xf, xt = B.descriptors(fm, persons), B.descriptors(tm, persons)
                    for method in ("mahalanobis", "knn"):
                        add(results, f"baseline: raw-pose {method} [x,-y metres]", fold,
                            B.DescriptorOoD(method).fit(xf).score(xt))  # fmt: skip
            t_base += time.perf_counter() - t
        if peer:
            t = time.perf_counter()
            xf = np.stack([base_cache[("desc", id(c), persons)] for c in fold.fit])
            xt = np.stack([base_cache[("desc", id(c), persons)] for c in fold.test])
            add(results, "peer: GRU autoencoder", fold, peer_scores(xf, xt, B.DESCRIPTOR_FRAMES, seed=seed))
            t_peer += time.perf_counter() - t

        # the model's prompt evidence against its k-NN OoD (the Detector's own variants above
        # cover raw-pose, symmetric and mixed OoD sources)
        ff, ef = caches["method"].get(fold.fit)
        ft, et = caches["method"].get(fold.test)
        ef64, et64 = ef.astype(np.float64), et.astype(np.float64)
        if ya is not None and yn_study is not None:
            add(results, "full-sum[knn] with (prompt - normal prompt)", fold,
                _std_ood(dets[("method", "knn")], ft) + _std_prompt(ef64, et64, ya, yn_study))  # fmt: skip
            add(results, "prompt - normal prompt", fold, prompt_score(et64, ya, yn_study))

        # prompt studies (method model): prompt-only and full-sum[knn] per prompt set
        if prompt_study:
            ood_std = _std_ood(dets[("method", "knn")], ft)
            sets: list[tuple[str, str, list[str], list[str]]] = []
            if bench.prompts:
                sets.append(("protocol", "phrasing", list(bench.prompts), []))
                for p in bench.phrasings:
                    sets.append((p, "phrasing", [p], []))
                ens = list(dict.fromkeys(list(bench.prompts) + list(bench.phrasings)))
                sets.append(("ensemble (max over all phrasings)", "ensemble", ens, []))
                sets.append(("anomaly minus normal", "minus", list(bench.prompts), study_normal))
                sets.append(("ensemble minus normal", "minus", ens, study_normal))
            sets.append(("normal-only (templated)", "normal", [], study_normal))
            raw_names = [n for n in bench.normal if n != "normal"]
            if raw_names and raw_names != study_normal:
                sets.append(("normal-only (bare class names)", "normal", [], raw_names))
            for label, kind, pa, pn in sets:
                a_emb, n_emb = text(pa), text(pn)
                ps = prompt_score(et64, a_emb, n_emb)
                pnorm = prompt_score(ef64, a_emb, n_emb)
                row = {"fold": fold.name, "kind": kind, "prompts": pa, "normal_prompts": pn}
                row["prompt_only"] = evaluate(fold.labels, ps)["auc"]
                row["full_sum_knn"] = evaluate(fold.labels, ood_std + standardised(ps, pnorm, 99.0))["auc"]
                if kind == "ensemble":  # also the mean-embedding ensemble
                    m = a_emb.mean(0, keepdims=True)
                    m /= np.linalg.norm(m)
                    row["prompt_only_mean_embedding"] = evaluate(fold.labels, prompt_score(et64, m, None))[
                        "auc"
                    ]
                study.setdefault(label, []).append(row)

        # robustness: corrupt the test clips, recompute test features, rescore
        if robustness:
            ffm, efm = caches["method"].get(fold.fit)
            det_k = dets[("method", "knn")]
            peer_model = None
            xf = np.stack([base_cache[("desc", id(c), persons)] for c in fold.fit])
            knn_raw = B.DescriptorOoD("knn").fit(xf)
            maha_raw = B.DescriptorOoD("mahalanobis").fit(xf)
            if peer:
                from skelprompt.bench.peer import SequenceAutoencoder

                f3 = (
                    xf.reshape(len(xf), -1, B.DESCRIPTOR_FRAMES, 26)
                    .transpose(0, 2, 1, 3)
                    .reshape(len(xf), B.DESCRIPTOR_FRAMES, -1)
                )
                peer_model = SequenceAutoencoder(seed=seed).fit(f3)
            det_default = Detector(method_model, DetectorConfig(), text_encoder=text.enc).fit(fold.fit)
            for cname, kind, level in conditions(bench.two_person):
                test = corrupt(fold.test, kind, level, seed=seed + 1)
                ftc, etc = extract_features(method_model, test)
                achieved = _achieved(fold.test, test, kind)
                row = robust.setdefault(cname, {})
                variants = {
                    "ood[knn]": det_k.ood_distance(ftc),
                    "prompt": prompt_score(etc.astype(np.float64), ya, yn),
                }
                variants["skelprompt default"] = det_default.score(
                    test, anomaly_prompts or None, normal_prompts or None
                ).anomaly
                det_k.config.combine = "sum"
                variants["full-sum[knn]"] = det_k.score_features(ftc, etc, anomaly_prompts or None,
                                                                 normal_prompts or None).anomaly  # fmt: skip
                xt = B.descriptors(test, persons)
                variants["baseline: mean joint speed"] = np.array([B.mean_joint_speed(c) for c in test])
                variants["baseline: raw-pose k-NN"] = knn_raw.score(xt)
                variants["baseline: raw-pose mahalanobis"] = maha_raw.score(xt)
                if peer_model is not None:
                    x3 = xt.reshape(len(xt), -1, B.DESCRIPTOR_FRAMES, 26).transpose(0, 2, 1, 3)
                    variants["peer: GRU autoencoder"] = peer_model.score(
                        x3.reshape(len(xt), B.DESCRIPTOR_FRAMES, -1)
                    )
                for vk, v in variants.items():
                    row.setdefault(vk, []).append({"fold": fold.name, "auc": evaluate(fold.labels, v)["auc"],
                                                   "achieved": achieved})  # fmt: skip

    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": name,
        "dataset": bench.dataset,
        "protocol": {
            "normal": list(bench.normal),
            "anomalous": list(bench.anomalous),
            "prompts": anomaly_prompts,
            "normal_prompts": normal_prompts,
            "study_normal_prompts": study_normal,
            "phrasings": list(bench.phrasings),
            "persons_in_descriptor": persons,
            "folds": [
                {"name": f.name, "fit": len(f.fit), "test": len(f.test), "anomalous": int(f.labels.sum())}
                for f in folds
            ],
        },
        "model": {
            "checksum": model_checksum(method_model),
            "provenance": provenance,
            "path": getattr(method_model, "source_path", None),
            "leave_out_check": leave_out,
            "untrained": bool(provenance.get("untrained")),
        },
        "control": {"checksum": model_checksum(ctrl_model), "provenance": ctrl_model.provenance}
        if "untrained" in models or model is None
        else None,
        "results": {k: _summarise(v) for k, v in results.items()},
    }
    if prompt_study:
        out["prompt_study"] = _summarise_study(study)
    if robustness:
        out["robustness"] = {
            c: {
                v: {"auc": mean_std([r["auc"] for r in rows]), "achieved": rows[0]["achieved"], "folds": rows}
                for v, rows in vs.items()
            }  # fmt: skip
            for c, vs in robust.items()
        }
    timings.update(
        {
            "features": sum(c.seconds for c in caches.values()),
            "clips_encoded": sum(c.count for c in caches.values()),
            "method_scoring": t_score,
            "baselines": t_base,
            "peer": t_peer,
            "total": time.perf_counter() - t_start,
        }
    )
    out["timings"] = timings
    out["environment"] = {
        "skelprompt": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data_root": str(Path(data_root).resolve()) if data_root else None,
        "seed": seed,
    }
    return out


def _achieved(clean: list[Clip], test: list[Clip], kind: str) -> float:
    """The error rate actually injected (dropped fraction, noise in torso lengths, ...)."""
    if kind == "drop":
        a = sum(int((c.keypoint_score > 0).sum()) for c in clean)
        b = sum(int((c.keypoint_score > 0).sum()) for c in test)
        return 1.0 - b / max(a, 1)
    if kind == "swap":
        fr = [np.diff(c.meta.get("swapped_frames", [0, 0]))[0] / c.num_frames for c in test]
        return float(np.mean(fr))
    if kind == "extra":
        return float(np.mean([t.num_persons - c.num_persons for c, t in zip(clean, test, strict=True)]))
    if kind == "noise":
        from skelprompt.bench.robustness import _torso

        vals = []
        for c, t in zip(clean[:20], test[:20], strict=True):
            ok = (c.keypoint_score > 0) & (t.keypoint_score > 0)
            vals.append(float((t.keypoint - c.keypoint)[ok].std() / _torso(c)))
        return float(np.mean(vals))
    return 0.0


def _summarise_study(study: dict[str, list[dict]]) -> dict:
    rows = {}
    for label, fs in study.items():
        r = {
            "kind": fs[0]["kind"],
            "prompts": fs[0]["prompts"],
            "normal_prompts": fs[0]["normal_prompts"],
            "prompt_only": mean_std([f["prompt_only"] for f in fs]),
            "full_sum_knn": mean_std([f["full_sum_knn"] for f in fs]),
            "folds": fs,
        }
        if "prompt_only_mean_embedding" in fs[0]:
            r["prompt_only_mean_embedding"] = mean_std([f["prompt_only_mean_embedding"] for f in fs])
        rows[label] = r
    phr = [
        r["prompt_only"]["mean"]
        for r in rows.values()
        if r["kind"] == "phrasing" and r["prompt_only"]["mean"] is not None
    ]
    out: dict[str, Any] = {"sets": rows}
    if phr:
        out["phrasing_spread"] = {
            "n": len(phr),
            "mean": float(np.mean(phr)),
            "std": float(np.std(phr)),
            "min": float(np.min(phr)),
            "max": float(np.max(phr)),
        }
    return out
