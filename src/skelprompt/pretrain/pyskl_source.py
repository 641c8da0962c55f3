"""A PySKL skeleton file as a streamed pretraining source, mixed with the in-memory data sets.

``--pyskl FILE.pkl --trust-pickle``: the pickle is converted once (rank 0, the others wait)
into ``.npz`` shards beside it (``FILE.pkl.shards/``, reused while the pickle's size and
modification time are unchanged; ``--pyskl DIR`` takes such a folder directly). Training then
streams the shards: at most one shard plus the shuffle buffer of clips is held per process,
whatever the file's size. Labels are PySKL class indices; their names come from
``--label-names`` (a text file, one name a line, or ``ntu60`` / ``ntu120`` / ``kinetics400``
for the usual class lists), and for NTU / Kinetics classes the long text targets come from
``action_descriptions/descriptions.jsonl`` of the data root.

Every step mixes clips of the built-in pool and of the stream in proportion to their counts;
both are split equally across DDP ranks, so all ranks take the same number of steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError, SkelpromptError
from skelprompt.pretrain import distributed as ddp
from skelprompt.pretrain.data import Pool, class_key
from skelprompt.pretrain.pyskl_shards import (
    ShardedClipDataset,
    convert_pyskl_to_shards,
    pyskl_label_names,
    read_index,
)

KNOWN_LABEL_SETS = ("ntu60", "ntu120", "kinetics400")
# Long text targets per class, best first: GAP's narrative sentence, PURLS's global description.
_DESCRIPTION_KINDS = (("gap", "sentence"), ("purls", "global"), ("sadvae", "definition"))


@dataclass
class PysklSpec:
    """What the command line says about the PySKL source."""

    path: Path
    trust_pickle: bool = False
    label_names: str | None = None  # a file path or one of KNOWN_LABEL_SETS
    layout: str = "coco17"
    shuffle_buffer: int = 1024


def shard_folder(pkl: Path) -> Path:
    return pkl.with_name(pkl.name + ".shards")


def _reusable(folder: Path, pkl: Path) -> bool:
    try:
        index = read_index(folder)
    except FileFormatError:
        return False
    st = pkl.stat()
    return index.get("source_bytes") == st.st_size and index.get("source_mtime_ns") == st.st_mtime_ns


def label_names_for(spec: PysklSpec, data_root: str | Path) -> list[str] | None:
    """The class names the labels index: a known list, the lines of a file, or None."""
    if spec.label_names is None:
        return None
    if spec.label_names in KNOWN_LABEL_SETS:
        return pyskl_label_names(data_root, spec.label_names)
    path = Path(spec.label_names)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SkelpromptError(f"{path}: no such label-names file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SkelpromptError(f"{path}: cannot read label names ({e})") from None
    names = [ln.strip() for ln in lines if ln.strip()]
    if not names:
        raise SkelpromptError(f"{path}: no label names (one class name a line)")
    return names


def open_pyskl(spec: PysklSpec, info: ddp.DistInfo, data_root: str | Path) -> dict[str, Any]:
    """The shard index of ``spec.path`` (converting a pickle once), labels checked."""
    path = spec.path
    if not path.exists():
        raise SkelpromptError(f"{path}: no such PySKL file or shard folder")
    names = label_names_for(spec, data_root)
    if path.is_dir():
        index = read_index(path)
    else:
        if not spec.trust_pickle:
            raise SkelpromptError(f"{path}: reading a pickle needs --trust-pickle (only for files you trust)")
        folder = shard_folder(path)
        if info.is_main and not _reusable(folder, path):
            convert_pyskl_to_shards(path, folder, layout=spec.layout, label_names=names, trust_pickle=True)
        ddp.barrier(info)
        index = read_index(folder)
    names = names or index.get("label_names")
    if not names:
        raise SkelpromptError(f"{path}: no label names; give --label-names FILE or one of {KNOWN_LABEL_SETS}")
    index["label_names"] = names
    _check_labels(index, len(names))
    return index


def _check_labels(index: dict[str, Any], num_names: int) -> None:
    """Every clip labelled, inside the label names (reads only the small label arrays)."""
    for entry in index["shards"]:
        p = Path(index["_dir"]) / entry["file"]
        try:
            with np.load(p, allow_pickle=False) as z:
                lab = z["label"]
        except (OSError, KeyError, ValueError) as e:
            raise FileFormatError(f"{p}: not a readable shard ({e})") from None
        if lab.dtype.kind != "i" or len(lab) != entry["num_clips"]:
            raise FileFormatError(f"{p}: labels must be {entry['num_clips']} integers")
        if len(lab) and (lab.min() < 0 or lab.max() >= num_names):
            raise FileFormatError(
                f"{p}: labels {int(lab.min())}..{int(lab.max())} outside 0..{num_names - 1} (the label names)"
            )


def known_descriptions(dataset: str | None, names: list[str], data_root: str | Path) -> dict[str, str]:
    """Long class descriptions by class key for NTU / Kinetics label indices (else empty)."""
    if dataset not in KNOWN_LABEL_SETS:
        return {}
    path = Path(data_root) / "action_descriptions" / "descriptions.jsonl"
    if not path.exists():
        return {}
    ds = "kinetics400" if dataset == "kinetics400" else "ntu120"
    found: dict[tuple[str, str], dict[int, str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["dataset"] == ds and (row["source"], row["kind"]) in _DESCRIPTION_KINDS:
                found.setdefault((row["source"], row["kind"]), {}).setdefault(
                    int(row["class_id"]), row["text"]
                )
    first_id = 0 if ds == "kinetics400" else 1  # NTU ids count from 1 (A001), PySKL labels from 0
    out: dict[str, str] = {}
    for i, n in enumerate(names):
        for kind in _DESCRIPTION_KINDS:
            text = found.get(kind, {}).get(i + first_id)
            if text:
                out[class_key(n)] = text
                break
    return out


def merge_classes(pool: Pool, names: list[str], source: str) -> np.ndarray:
    """Add ``names`` to the pool's classes (merged by class key, kept sorted; pool labels
    renumbered in place); return the lookup PySKL label index -> class index."""
    keys = [class_key(n) for n in names]
    merged = sorted({*pool.class_names, *keys})
    new = {n: i for i, n in enumerate(merged)}
    remap = np.array([new[n] for n in pool.class_names], np.int64)
    pool.labels = remap[pool.labels] if len(pool.labels) else pool.labels
    for k in keys:
        ds = pool.class_datasets.setdefault(k, [])
        if source not in ds:
            ds.append(source)
    pool.class_datasets = {k: pool.class_datasets[k] for k in merged}
    pool.class_names = merged
    return np.array([new[k] for k in keys], np.int64)


class PysklStream:
    """This rank's share of the shards for each epoch, as (clip, class index) pairs."""

    def __init__(self, index: dict[str, Any], lookup: np.ndarray, seed: int, info: ddp.DistInfo,
                 shuffle_buffer: int = 1024) -> None:  # fmt: skip
        self.data = ShardedClipDataset(index, seed=seed, shuffle_buffer=shuffle_buffer,
                                       rank=info.rank, world_size=info.world_size)  # fmt: skip
        self.lookup = lookup
        self.name = f"pyskl:{index.get('source', Path(index['_dir']).name)}"
        _, limit = self.data.shard_assignment(info.rank, info.world_size, 0, 1)
        self.per_rank = int(limit if limit is not None else index["num_clips"])
        self.num_clips = int(index["num_clips"])

    def epoch(self, epoch: int) -> Iterator[tuple[Clip, int]]:
        self.data.set_epoch(epoch)
        for c in self.data:
            yield c, int(self.lookup[c.meta["label_index"]])


def mixed_batches(
    pool: Pool, order: np.ndarray, stream: PysklStream | None, epoch: int, batch_size: int, seed: int
) -> Iterator[tuple[list[Clip], np.ndarray]]:
    """Batches of ``(clips, class indices)``: the pool clips of ``order`` and, when given, this
    rank's stream clips, interleaved in a seeded random order (the same on every resume)."""
    if stream is None:
        for i in range(0, len(order), batch_size):
            b = order[i : i + batch_size]
            yield [pool.clips[j] for j in b], pool.labels[b]
        return
    from_stream = np.zeros(len(order) + stream.per_rank, bool)
    from_stream[: stream.per_rank] = True
    np.random.default_rng([seed, epoch, 11]).shuffle(from_stream)
    it = stream.epoch(epoch)
    pool_pos = 0
    clips: list[Clip] = []
    labels: list[int] = []
    for s in from_stream:
        if s:
            c, lab = next(it)
        else:
            c, lab = pool.clips[order[pool_pos]], int(pool.labels[order[pool_pos]])
            pool_pos += 1
        clips.append(c)
        labels.append(lab)
        if len(clips) == batch_size:
            yield clips, np.array(labels, np.int64)
            clips, labels = [], []
    if clips:
        yield clips, np.array(labels, np.int64)


def open_stream(
    spec: PysklSpec, pool: Pool, descriptions: dict[str, str], seed: int, info: ddp.DistInfo,
    data_root: str | Path | None,
) -> PysklStream:  # fmt: skip
    """Open the PySKL source, merge its classes into ``pool`` and its long descriptions into
    ``descriptions`` (both in place); return this rank's stream."""
    from skelprompt.datasets.registry import default_data_root

    root = Path(data_root) if data_root is not None else default_data_root()
    index = open_pyskl(spec, info, root)
    names = index["label_names"]
    lookup = merge_classes(pool, names, f"pyskl:{Path(index['_dir']).name}")
    for k, v in known_descriptions(spec.label_names, names, root).items():
        descriptions.setdefault(k, v)
    return PysklStream(index, lookup, seed, info, spec.shuffle_buffer)
