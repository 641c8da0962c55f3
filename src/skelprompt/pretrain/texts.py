"""Rich text targets: several texts per pool class, embedded once, sampled per step.

A class's texts are its name templates (pair templates for two-person clips), the descriptions
that ``action_descriptions/pool_mapping.json`` maps onto it (PURLS global / body part / phase,
GAP body part and sentence, SA-DVAE definition; GAP "synonyms" are left out: they blur
handshake and hug), and our own short descriptions (``class_texts.json``) where nothing maps.
A text that ends up in two classes is dropped from both (it would be a positive of one and a
negative of the other). The class embedding (retrieval, evaluation) is the normalised mean
over all of a class's texts. Embeddings are cached on disk per text set (a hash of the
encoder's name and the texts), so the sentence encoder runs once, never per step.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.clip import Clip
from skelprompt.pretrain.data import PAIR_TEMPLATES, SINGLE_TEMPLATES, class_key

DESCRIPTIONS_FOLDER = "action_descriptions"
OWN_TEXTS = Path(__file__).with_name("class_texts.json")
CACHE_ENV = "SKELPROMPT_CACHE"
KINDS = ("global", "body_part", "temporal", "sentence", "definition")
# pool_mapping.json keys use short data set names and the sources' own class spellings
_SHORT = {"nw_ucla": "ucla", "utkinect": "utk"}
_RAW_CLASS = ("k3hi", "utkinect", "jhmdb")  # data sets whose label was renamed from meta["class"]
_RENAME = {
    "precog/neutral stance": "precog/neutral",
    "urfd/falling down": "urfd/falling",
    "urfd/lying on the floor": "urfd/fall",
    "urfd/standing or walking": "urfd/not fall",
}


def mapping_key(dataset: str, clip: Clip) -> str:
    """The ``pool_mapping.json`` key of a pool clip's class (lower-cased)."""
    if "mapping_key" in clip.meta:
        return str(clip.meta["mapping_key"]).lower()
    raw = clip.meta.get("class") if dataset in _RAW_CLASS else clip.label
    key = f"{_SHORT.get(dataset, dataset)}/{raw}".lower()
    return _RENAME.get(key, key)


def _format(row: dict[str, Any], name: str) -> str:
    text = " ".join(str(row["text"]).split())
    if row["source"] == "purls" and row["kind"] in ("global", "temporal", "body_part"):
        if row["kind"] == "global":
            return f"A person will {text}" if text[:1].islower() else text
        return f"{name}, {row['part']}: {text}"  # "Extend foot." means nothing without the action
    if row["kind"] == "body_part":
        return f"{name}: {text}"
    return text


def mapped_descriptions(data_root: Path, keys_by_class: dict[str, set[str]],
                        matches: Sequence[str]) -> dict[str, list[str]]:  # fmt: skip
    """Class -> description texts from the mapping (exact matches first; close ones only when
    a class has no exact one). Missing files give no descriptions."""
    folder = Path(data_root) / DESCRIPTIONS_FOLDER
    try:
        mapping = {
            k.lower(): v for k, v in json.loads((folder / "pool_mapping.json").read_text("utf-8")).items()
        }
        rows: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        with open(folder / "descriptions.jsonl", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r["kind"] in KINDS:
                    rows.setdefault((r["source"], r["dataset"], int(r["class_id"])), []).append(r)
    except (OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    for name, keys in keys_by_class.items():
        entries = [e for k in sorted(keys) for e in mapping.get(k, [])]
        for level in ("exact", "close", "related"):
            chosen = [e for e in entries if e["match"] == level and level in matches]
            if chosen:
                break
        texts = [
            _format(r, name)
            for e in chosen
            for r in rows.get((e["source"], e["dataset"], int(e["class_id"])), [])
        ]
        out[name] = list(dict.fromkeys(texts))
    return out


def own_descriptions() -> dict[str, list[str]]:
    """Our short descriptions by class key (classes that nothing maps onto, synthetic pairs)."""
    data = json.loads(OWN_TEXTS.read_text("utf-8"))
    return {class_key(k): list(v) for k, v in data.items() if not k.startswith("_")}


def cached_encode(encoder, texts: list[str]) -> np.ndarray:
    """``encoder.encode(texts)``, cached in ``$SKELPROMPT_CACHE/text-embeddings`` (or ~/.cache/skelprompt)."""
    from skelprompt.io.atomic import write_with

    h = hashlib.sha256("\n".join([encoder.name, *texts]).encode()).hexdigest()[:24]
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "skelprompt")
    path = root / "text-embeddings" / f"{h}.npy"
    if path.is_file():
        try:
            emb = np.load(path, allow_pickle=False)
            if emb.shape[0] == len(texts):
                return emb.astype(np.float32)
        except (OSError, ValueError):
            pass
    emb = np.asarray(encoder.encode(texts), np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda p: np.save(p, emb), suffix=".npy")
    except OSError:
        pass  # a read-only cache only costs time
    return emb


class RichTextBank:
    """Several texts per class; ``sample`` picks one per clip, ``class_embeddings`` = mean per class."""

    def __init__(self, class_names: list[str], encoder, descriptions: dict[str, list[str]],
                 description_p: float = 0.5) -> None:  # fmt: skip
        owner: dict[str, set[str]] = {}
        for n, ds in descriptions.items():
            for t in ds:
                owner.setdefault(t, set()).add(n)
        self.descriptions = [[t for t in descriptions.get(n, []) if len(owner[t]) == 1] for n in class_names]
        self.single = [[t.format(name=n) for t in SINGLE_TEMPLATES] for n in class_names]
        self.pair = [[t.format(name=n) for t in PAIR_TEMPLATES] for n in class_names]
        self.texts = list(
            dict.fromkeys(t for g in (self.single, self.pair, self.descriptions) for ts in g for t in ts)
        )
        pos = {t: i for i, t in enumerate(self.texts)}
        self._single = [np.array([pos[t] for t in ts]) for ts in self.single]
        self._pair = [np.array([pos[t] for t in ts]) for ts in self.pair]
        self._desc = [np.array([pos[t] for t in ts], dtype=np.int64) for ts in self.descriptions]
        self.description_p = description_p
        self.embeddings = cached_encode(encoder, self.texts)
        means = []
        for k in range(len(class_names)):
            rows = np.concatenate([self._single[k], self._pair[k], self._desc[k]])
            m = self.embeddings[rows].mean(0)
            means.append(m / max(float(np.linalg.norm(m)), 1e-12))
        self.class_embeddings = np.stack(means).astype(np.float32)

    @property
    def num_descriptions(self) -> int:
        return sum(len(d) for d in self._desc)

    def texts_of(self, label: int) -> list[str]:
        return [*self.single[label], *self.pair[label], *self.descriptions[label]]

    def sample_rows(self, labels: np.ndarray, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rows = []
        for lab, m in zip(labels, persons, strict=True):
            d = self._desc[lab]
            opts = (
                d
                if len(d) and rng.random() < self.description_p
                else (self._pair if m >= 2 else self._single)[lab]
            )
            rows.append(opts[int(rng.integers(len(opts)))])
        return np.array(rows, dtype=np.int64)

    def sample(self, labels: np.ndarray, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.embeddings[self.sample_rows(labels, persons, rng)]


def build_rich_bank(
    pool,
    encoder,
    data_root: Path,
    matches: Sequence[str],
    description_p: float,
    extra: dict[str, str] | None = None,
) -> RichTextBank:
    """The rich text bank of a :class:`~skelprompt.pretrain.data.Pool`; ``extra``: one more
    description per class (e.g. the NTU/Kinetics texts of a streamed PySKL source)."""
    keys: dict[str, set[str]] = {n: set() for n in pool.class_names}
    for clip, lab, ds in zip(pool.clips, pool.labels, pool.datasets, strict=True):
        keys[pool.class_names[lab]].add(mapping_key(ds, clip))
    desc = mapped_descriptions(data_root, keys, matches)
    own = own_descriptions()
    more = {k: [v] for k, v in (extra or {}).items()}
    merged = {
        n: list(dict.fromkeys([*own.get(n, []), *desc.get(n, []), *more.get(n, [])]))
        for n in pool.class_names
    }
    return RichTextBank(pool.class_names, encoder, merged, description_p)


def make_text_bank(cfg, pool, encoder, data_root, descriptions: dict[str, str] | None = None):
    """The text targets ``cfg.texts`` asks for: ``"names"`` (the old bank) or ``"rich"``.
    ``descriptions``: the long description per class (default: the data root's)."""
    from skelprompt.datasets.registry import default_data_root
    from skelprompt.pretrain.data import TextBank, class_descriptions

    if descriptions is None:
        descriptions = class_descriptions(data_root)
    if cfg.texts == "names":
        return TextBank(pool.class_names, encoder, descriptions, cfg.description_p)
    root = Path(data_root) if data_root is not None else default_data_root()
    return build_rich_bank(pool, encoder, root, cfg.description_matches, cfg.description_p, descriptions)
