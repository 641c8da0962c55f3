"""The six benchmark protocols of ``../shared/data/README.md``, as lists of folds.

A :class:`Fold` holds the clips to fit on (normal clips of the training folds only), the clips
to test (every clip of the held-out fold), their 0/1 labels (1 = anomalous) and each test clip's
class name (the anomaly class for per-class AUC). Folds reference the data set's own
:class:`Clip` objects, so a runner can compute features once per clip and reuse them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets.registry import load_dataset
from skelprompt.errors import SkelpromptError

VIOLENCE_PROMPTS = ["kicking another person", "punching another person", "pushing another person"]


@dataclass
class Fold:
    name: str
    fit: list[Clip]
    test: list[Clip]
    labels: np.ndarray  # [len(test)] 0 normal, 1 anomalous
    classes: list[str]  # [len(test)] class name of each test clip
    # the anomalous clips of the training folds (never the test fold's): where few-shot
    # anomaly examples are drawn from
    train_anomalous: list[Clip] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    name: str
    dataset: str
    normal: tuple[str, ...]
    anomalous: tuple[str, ...]
    prompts: tuple[str, ...]  # anomaly prompts of the protocol (empty: normal-only prompts)
    phrasings: tuple[str, ...]  # alternative anomaly prompts for the prompt study
    two_person: bool
    folds: Callable[[list[Clip]], list[Fold]] = field(repr=False, compare=False)
    normal_templates: tuple[str, ...] = ("{}",)

    @property
    def wrong_prompts(self) -> tuple[str, ...]:
        """A deliberately wrong anomaly prompt: it names nothing this benchmark's anomalies do."""
        return WRONG_PROMPTS.get(self.name, ())

    @property
    def normal_prompts(self) -> list[str]:
        return [t.format(n) for n in self.normal for t in self.normal_templates]

    def load_folds(self, data_root: str | os.PathLike[str] | None = None) -> list[Fold]:
        return self.folds(load_dataset(self.dataset, data_root))


def _fold(name: str, fit_pool: list[Clip], test: list[Clip], normal: set[str], anomalous: set[str]) -> Fold:
    for c in test:
        if c.label not in normal and c.label not in anomalous:
            raise SkelpromptError(
                f"{c.name}: class {c.label!r} is in neither the normal nor the anomalous list"
            )
    fit = [c for c in fit_pool if c.label in normal]
    labels = np.array([int(c.label in anomalous) for c in test], dtype=int)
    train_anomalous = [c for c in fit_pool if c.label in anomalous]
    return Fold(name, fit, test, labels, [str(c.label) for c in test], train_anomalous)


# ---------------------------------------------------------------- SBU
SBU_NORMAL = ("approaching", "departing", "hugging", "shaking hands", "exchanging")
VIOLENCE = ("kicking", "punching", "pushing")
SBU_FOLDS = ([1, 9, 15, 19], [5, 7, 10, 16], [2, 3, 20, 21], [4, 6, 8, 11], [12, 13, 14, 17, 18])


def sbu_fold_sets(clips: list[Clip]) -> list[list[str]]:
    """The set names of each SBU fold (sets sorted, 1-based fold lists of the README)."""
    sets = sorted({c.meta["set"] for c in clips})
    if len(sets) != 21:
        raise SkelpromptError(f"SBU should have 21 sets, found {len(sets)}")
    return [[sets[i - 1] for i in f] for f in SBU_FOLDS]


def sbu_folds(clips: list[Clip]) -> list[Fold]:
    out = []
    for k, sets in enumerate(sbu_fold_sets(clips)):
        test = [c for c in clips if c.meta["set"] in sets]
        pool = [c for c in clips if c.meta["set"] not in sets]
        out.append(_fold(f"fold{k + 1}", pool, test, set(SBU_NORMAL), set(VIOLENCE)))
    return out


# ---------------------------------------------------------------- K3HI
K3HI_NORMAL = ("approaching", "departing", "exchanging", "pointing", "shaking hands")


def k3hi_fold_index(clips: list[Clip], n_folds: int = 5) -> list[int]:
    """Stratified folds: within each class, sequences sorted by numeric id, fold = rank mod 5."""
    out = [0] * len(clips)
    by_class: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        by_class.setdefault(str(c.meta["class"]), []).append(i)
    for idx in by_class.values():
        for rank, i in enumerate(sorted(idx, key=lambda i: int(clips[i].meta["seq_id"]))):
            out[i] = rank % n_folds
    return out


def k3hi_folds(clips: list[Clip]) -> list[Fold]:
    fi = k3hi_fold_index(clips)
    out = []
    for k in range(5):
        test = [c for c, f in zip(clips, fi, strict=True) if f == k]
        pool = [c for c, f in zip(clips, fi, strict=True) if f != k]
        out.append(_fold(f"fold{k + 1}", pool, test, set(K3HI_NORMAL), set(VIOLENCE)))
    return out


# ---------------------------------------------------------------- MSR
MSR_ANOMALOUS = ("forward punch", "side boxing", "forward kick", "side kick")


def msr_folds(clips: list[Clip]) -> list[Fold]:
    used = [c for c in clips if c.meta.get("used_in_cvpr12")]
    normal = {str(c.label) for c in used} - set(MSR_ANOMALOUS)
    pool = [c for c in used if c.meta["subject"] % 2 == 1]
    test = [c for c in used if c.meta["subject"] % 2 == 0]
    return [_fold("cross-subject", pool, test, normal, set(MSR_ANOMALOUS))]


# ---------------------------------------------------------------- URFD
URFD_WINDOW, URFD_STRIDE = 16, 4


def urfd_windows(video: Clip, window: int = URFD_WINDOW, stride: int = URFD_STRIDE) -> list[Clip]:
    """16-frame windows, stride 4; label 'fall' if any frame is labelled 1 or 2, else 'normal'.

    Windows with no detected joint at all are skipped (nothing to score).
    """
    labels = np.asarray(video.meta["frame_labels"])
    out = []
    for s in range(0, video.num_frames - window + 1, stride):
        w = video.frames(s, s + window)
        if not (w.keypoint_score > 0).any():
            continue
        lab = labels[s : s + window]
        w.label = "fall" if (lab > 0).any() else "normal"
        w.frame_dir = f"{video.frame_dir}/{s:04d}"
        w.meta = {k: v for k, v in video.meta.items() if k != "frame_labels"}
        w.meta.update({"window_start": s, "frame_labels": lab.tolist()})
        out.append(w)
    return out


def urfd_folds(clips: list[Clip]) -> list[Fold]:
    videos = sorted(clips, key=lambda c: c.meta["video"])
    if len(videos) != 30:
        raise SkelpromptError(f"URFD should have 30 fall videos, found {len(videos)}")
    windows = {v.meta["video"]: urfd_windows(v) for v in videos}
    out = []
    for k in range(5):
        names = [v.meta["video"] for v in videos[6 * k : 6 * k + 6]]
        test = [w for n in names for w in windows[n]]
        pool = [w for n, ws in windows.items() if n not in names for w in ws]
        out.append(_fold(f"fold{k + 1}", pool, test, {"normal"}, {"fall"}))
    return out


# ---------------------------------------------------------------- JHMDB
JHMDB_NORMAL = ("walk", "run", "stand", "sit", "wave", "clap", "pick up", "pour")
JHMDB_ANOMALOUS = ("throw", "catch", "push", "jump", "golf swing", "pull up")


def jhmdb_folds(clips: list[Clip]) -> list[Fold]:
    out = []
    for s in ("1", "2", "3"):
        pool = [c for c in clips if c.meta["splits"].get(s) == "train"]
        test = [c for c in clips if c.meta["splits"].get(s) == "test"]
        out.append(_fold(f"split{s}", pool, test, set(JHMDB_NORMAL), set(JHMDB_ANOMALOUS)))
    return out


# ---------------------------------------------------------------- NW-UCLA
UCLA_NORMAL = (
    "walk around",
    "sit down",
    "stand up",
    "pick up with one hand",
    "pick up with two hands",
    "carry",
    "drop trash",
)
UCLA_ANOMALOUS = ("throw", "donning", "doffing")


def ucla_folds(clips: list[Clip]) -> list[Fold]:
    pool = [c for c in clips if c.meta["view"] in (1, 2)]
    test = [c for c in clips if c.meta["view"] == 3]
    return [_fold("cross-view", pool, test, set(UCLA_NORMAL), set(UCLA_ANOMALOUS))]


# ---------------------------------------------------------------- registry
MSR_NORMAL = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "high throw", "draw x",
    "draw tick", "draw circle", "hand clap", "two hand wave", "bend", "tennis swing",
    "tennis serve", "golf swing", "pickup and throw", "jogging",
)  # fmt: skip

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark(
            "sbu-violence", "sbu", SBU_NORMAL, VIOLENCE, tuple(VIOLENCE_PROMPTS),
            ("people fighting", "violence", "a person hitting another person", "a fight",
             "kicking, punching or pushing another person", "one person attacks another",
             "two people fighting"),
            True, sbu_folds, ("two people {}",),
        ),
        Benchmark(
            "k3hi-violence", "k3hi", K3HI_NORMAL, VIOLENCE, tuple(VIOLENCE_PROMPTS),
            ("people fighting", "violence", "a person hitting another person", "a fight",
             "kicking, punching or pushing another person", "one person attacks another",
             "two people fighting"),
            True, k3hi_folds, ("two people {}",),
        ),
        Benchmark(
            "msr-violence", "msr", MSR_NORMAL, MSR_ANOMALOUS, ("punching", "boxing", "kicking"),
            ("a person punching", "a person kicking", "fighting", "martial arts strike",
             "a person throwing a punch or a kick", "violence", "boxing"),
            False, msr_folds, ("a person {}",),
        ),
        Benchmark(
            "urfd-fall", "urfd", ("normal",), ("fall",),
            ("a person falling down", "a person lying on the floor"),
            ("falling", "a person falls", "a person lying down", "a person collapsing to the ground",
             "fall", "a person on the ground"),
            False, urfd_folds,
        ),
        Benchmark("jhmdb-novel", "jhmdb", JHMDB_NORMAL, JHMDB_ANOMALOUS, (), (), False, jhmdb_folds,
                  ("a person {}",)),
        Benchmark("ucla-novel", "nw_ucla", UCLA_NORMAL, UCLA_ANOMALOUS, (), (), False, ucla_folds,
                  ("a person {}",)),
    ]
}  # fmt: skip

# per benchmark, an anomaly prompt that is clearly wrong for its anomalies: a default run with it
# must stay about as good as OoD alone (the prompt guard's test); none is a normal anchor
WRONG_PROMPTS: dict[str, tuple[str, ...]] = {
    "sbu-violence": ("a person drinking water",),
    "k3hi-violence": ("a person drinking water",),
    "msr-violence": ("a person drinking water",),
    "urfd-fall": ("people shaking hands",),
    "jhmdb-novel": ("a person brushing teeth",),
    "ucla-novel": ("a person swimming",),
}

# URFD has no normal class names: its normal prompts for the study are everyday activities.
URFD_NORMAL_PROMPTS = ("a person walking", "a person standing", "a person sitting", "a person bending down")


def normal_prompts_for(bench: Benchmark) -> list[str]:
    if bench.name == "urfd-fall":
        return list(URFD_NORMAL_PROMPTS)
    return bench.normal_prompts


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise SkelpromptError(
            f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)} or 'all'"
        ) from None


def load_folds(name: str, data_root: str | os.PathLike[str] | Path | None = None) -> list[Fold]:
    return get_benchmark(name).load_folds(data_root)
