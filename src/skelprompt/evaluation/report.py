"""Markdown tables from benchmark result dicts (see :mod:`skelprompt.evaluation.runner`)."""

from __future__ import annotations

ORDER_PREFIX = ("ood", "prompt", "full", "untrained", "skelprompt", "peer", "baseline")


def _fmt(ms: dict | None, std: bool = True) -> str:
    if not ms or ms.get("mean") is None:
        return "-"
    if std and ms.get("std"):
        return f"{ms['mean']:.3f} ± {ms['std']:.3f}"
    return f"{ms['mean']:.3f}"


def _variants(results: list[dict]) -> list[str]:
    names: list[str] = []
    for r in results:
        for k in r["results"]:
            if k not in names:
                names.append(k)
    return sorted(names, key=lambda k: next((i for i, p in enumerate(ORDER_PREFIX) if k.startswith(p)), 99))


def results_table(results: list[dict]) -> str:
    """One row per variant, one column per benchmark: AUC mean ± std over folds."""
    head = "| method | " + " | ".join(r["benchmark"] for r in results) + " |"
    lines = [head, "|" + "---|" * (len(results) + 1)]
    for v in _variants(results):
        cells = [_fmt(r["results"].get(v, {}).get("auc")) for r in results]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def far_table(results: list[dict]) -> str:
    head = "| method | " + " | ".join(r["benchmark"] for r in results) + " |"
    lines = [head, "|" + "---|" * (len(results) + 1)]
    for v in _variants(results):
        cells = [_fmt(r["results"].get(v, {}).get("far@90"), std=False) for r in results]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_class_table(result: dict) -> str:
    classes = sorted({c for v in result["results"].values() for c in v.get("per_class", {})})
    lines = ["| method | " + " | ".join(classes) + " |", "|" + "---|" * (len(classes) + 1)]
    for v in _variants([result]):
        pc = result["results"][v].get("per_class", {})
        lines.append(f"| {v} | " + " | ".join(_fmt(pc.get(c), std=False) for c in classes) + " |")
    return "\n".join(lines)


def prompt_table(result: dict) -> str:
    st = result.get("prompt_study")
    if not st:
        return ""
    lines = [
        "| prompt set | kind | prompt only | full (sum, k-NN) | prompt only, cosine | full, cosine |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in st["sets"].items():
        cells = [
            _fmt(r.get(k))
            for k in ("prompt_only", "full_sum_knn", "prompt_only_cosine", "full_sum_knn_cosine")
        ]
        lines.append(f"| {label} | {r['kind']} | " + " | ".join(cells) + " |")
    for key, what in (("phrasing_spread", "default evidence"), ("phrasing_spread_cosine", "cosine evidence")):
        sp = st.get(key)
        if sp:
            lines.append(
                f"\nPhrasings (n = {sp['n']}, {what}): prompt-only AUC mean {sp['mean']:.3f}, "
                f"std {sp['std']:.3f}, range {sp['min']:.3f} to {sp['max']:.3f}."
            )
    return "\n".join(lines)


def robustness_table(result: dict) -> str:
    rb = result.get("robustness")
    if not rb:
        return ""
    conds = list(rb)
    variants = list(next(iter(rb.values())))
    lines = ["| method | " + " | ".join(conds) + " |", "|" + "---|" * (len(conds) + 1)]
    lines.append(
        "| achieved error | "
        + " | ".join(f"{next(iter(rb[c].values()))['achieved']:.2f}" for c in conds)
        + " |"
    )
    for v in variants:
        lines.append(
            f"| {v} | " + " | ".join(_fmt(rb[c].get(v, {}).get("auc"), std=False) for c in conds) + " |"
        )
    return "\n".join(lines)


def markdown_report(results: list[dict], title: str = "skelprompt benchmark") -> str:
    out: list[str] = [f"# {title}", ""]
    models = {(r["benchmark"], r["model"]["checksum"][:12], r["model"]["leave_out_check"]) for r in results}
    out.append("Video-level ROC-AUC, anomalous = positive, mean ± std over folds.\n")
    out.append("Models: " + "; ".join(f"{b}: {c} ({chk})" for b, c, chk in sorted(models)) + "\n")
    out += ["## ROC-AUC", "", results_table(results), ""]
    out += ["## False-alarm rate at 90% recall (mean over folds)", "", far_table(results), ""]
    for r in results:
        if any(v.get("per_class") for v in r["results"].values()):
            out += [f"## Per-anomaly-class AUC: {r['benchmark']}", "", per_class_table(r), ""]
    for r in results:
        pt = prompt_table(r)
        if pt:
            out += [f"## Prompt study: {r['benchmark']}", "", pt, ""]
    for r in results:
        rt = robustness_table(r)
        if rt:
            out += [f"## Robustness: {r['benchmark']} (AUC vs injected error)", "", rt, ""]
    t = sum(r["timings"]["total"] for r in results)
    out.append(f"Total run time {t:.0f} s over {len(results)} benchmark(s).")
    return "\n".join(out) + "\n"
