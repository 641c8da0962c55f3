"""The zero-shot rule: a model benchmarked on a data set must not have been pretrained on it.

Reads the data set names a model's provenance records (several key spellings, nested
``pretrain`` records) and checks them against the benchmark's data set and its aliases.
"""

from __future__ import annotations

from typing import Any

from skelprompt.errors import ModelError

# provenance keys that may list the pretraining data sets (older and newer writers differ)
PROVENANCE_DATASET_KEYS = (
    "datasets",
    "pretrain_datasets",
    "train_datasets",
    "pretraining_datasets",
    "sources",
    "data",
)
# other names a data set goes by in provenance records
DATASET_ALIASES = {"nw_ucla": ("nw_ucla", "ucla", "nw-ucla", "northwestern-ucla")}


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
    aliases = {a.lower() for a in DATASET_ALIASES.get(dataset, (dataset,))}
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
