"""Operator feedback on a fitted detector, kept in a sidecar file beside it.

A *false alarm*'s windows join the detector's normal set at once: their feature rows (and
their mirrored / person-swapped variants, as ``fit`` makes them) are added to each k-NN
scorer (:data:`FEEDBACK_MODES`), their own cross-fitted distances to the normal distances,
their embeddings to the normal embeddings; nothing already fitted is recomputed. The threshold is a quantile of
the normal scores, so it moves with them. A *true alarm*'s windows are kept as anomaly
examples (their embeddings and OoD features): no scorer of this package uses them yet; they
are there for few-shot prompt learning.

Every change is a record (who, when, which alert or window) in ``DETECTOR.feedback.safetensors``
(:func:`sidecar_path`); an undo is a record too, so the history is never rewritten. The file is
written atomically (a temporary file renamed into place) under a lock, carries a SHA-256 of its
records and tensors and the checksum of the detector it belongs to; loading checks both.
:meth:`Detector.load` applies the sidecar when it exists.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt.clip import Clip
from skelprompt.detector import sources
from skelprompt.detector.detector import Detector
from skelprompt.detector.scorers.knn import KnnScorer
from skelprompt.errors import ModelError, SkelpromptError
from skelprompt.model.checkpoint import load_tensors, read_safetensors_metadata, save_tensors
from skelprompt.model.network import SkeletonTextModel
from skelprompt.scoring import knn_distance

FEEDBACK_FORMAT = "skelprompt-feedback"
FEEDBACK_VERSION = 1
FALSE_ALARM, TRUE_ALARM, UNDO = "false_alarm", "true_alarm", "undo"
VERDICTS = (FALSE_ALARM, TRUE_ALARM)
MAX_TEXT = 300  # longest "by" and note kept
SUFFIX = ".feedback.safetensors"


def sidecar_path(detector_path: str | os.PathLike[str]) -> Path:
    """``street.safetensors`` -> ``street.feedback.safetensors``."""
    p = Path(detector_path)
    return p.with_name(p.stem + SUFFIX) if p.suffix else p.with_name(p.name + SUFFIX)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class FeedbackRecord:
    """One change: a verdict on some windows, or the undo of an earlier verdict."""

    id: int
    verdict: str  # false_alarm | true_alarm | undo
    by: str
    at: str  # UTC, ISO 8601
    about: dict[str, Any]  # which alert or window (JSON: a results file and a window, a camera and alert)
    windows: int  # clips recorded (0 for an undo)
    undoes: int | None = None
    note: str = ""


@dataclass
class WindowFeatures:
    """What the detector keeps of some windows: embeddings and, per OoD source, the prepared
    feature rows (``x``, one a window) and their variants (``rows``, variant-major)."""

    embeddings: np.ndarray
    x: dict[str, np.ndarray] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.embeddings)


def window_features(det: Detector, clips: list[Clip]) -> WindowFeatures:
    """The features of ``clips`` as ``fit`` would add them to the normal set."""
    if not clips:
        raise SkelpromptError("no windows to record")
    return features_of(det, *det.features(clips, for_fit=True))


def features_of(
    det: Detector, feats: np.ndarray, embs: np.ndarray, extra: dict[str, np.ndarray]
) -> WindowFeatures:
    """:func:`window_features` from features computed already (``Detector.features(..., for_fit=True)``)."""
    arrays = sources.source_arrays(det.config, feats, extra)
    rows = {
        src: sources.variants(det.config, src, x, extra).reshape(-1, x.shape[1]) for src, x in arrays.items()
    }
    return WindowFeatures(np.asarray(embs, np.float64), arrays, rows)


def _check_scorers(det: Detector) -> None:
    bad = [s for s, sc in det.scorers.items() if not isinstance(sc, KnnScorer)]
    if bad:
        raise ModelError(
            f"feedback needs the k-NN OoD scorer (its memory bank takes new normal windows); this "
            f"detector uses {det.config.ood!r}: fit it with --ood knn"
        )


class FeedbackLog:
    """The records of one detector's feedback and the features they carry."""

    def __init__(self, detector_checksum: str) -> None:
        self.detector_checksum = detector_checksum
        self.records: list[FeedbackRecord] = []
        self.features: dict[int, WindowFeatures] = {}

    # ------------------------------------------------------------------ what holds now
    def undone(self) -> set[int]:
        return {r.undoes for r in self.records if r.verdict == UNDO and r.undoes is not None}

    def active(self) -> list[FeedbackRecord]:
        """Verdicts not undone, oldest first."""
        gone = self.undone()
        return [r for r in self.records if r.verdict in VERDICTS and r.id not in gone]

    def active_about(self, key: str, value: Any) -> FeedbackRecord | None:
        """The verdict in force on the alert or window whose ``about[key]`` is ``value``."""
        return next((r for r in reversed(self.active()) if r.about.get(key) == value), None)

    def anomaly_examples(self) -> WindowFeatures | None:
        """The true alarms' windows, joined; None when there are none."""
        return _join([self.features[r.id] for r in self.active() if r.verdict == TRUE_ALARM])

    # ------------------------------------------------------------------ changes
    def add(
        self, verdict: str, feats: WindowFeatures, by: str, about: dict[str, Any], note: str = ""
    ) -> FeedbackRecord:
        if verdict not in VERDICTS:
            raise SkelpromptError(f"verdict {verdict!r}: give one of {', '.join(VERDICTS)}")
        rec = FeedbackRecord(
            self._next_id(), verdict, _text(by), now_iso(), about, len(feats), None, _text(note)
        )
        self.records.append(rec)
        self.features[rec.id] = feats
        return rec

    def undo(self, record_id: int, by: str, note: str = "") -> FeedbackRecord:
        target = next((r for r in self.records if r.id == record_id), None)
        if target is None:
            raise SkelpromptError(f"no feedback record {record_id}")
        if target.verdict == UNDO:
            raise SkelpromptError(f"feedback record {record_id} is an undo; record the verdict again instead")
        if record_id in self.undone():
            raise SkelpromptError(f"feedback record {record_id} is undone already")
        about = {"record": record_id, **target.about}
        rec = FeedbackRecord(self._next_id(), UNDO, _text(by), now_iso(), about, 0, record_id, _text(note))
        self.records.append(rec)
        return rec

    def _next_id(self) -> int:
        return max((r.id for r in self.records), default=0) + 1

    # ------------------------------------------------------------------ file
    def _tensors(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for rid, f in self.features.items():
            out[f"r{rid}.embeddings"] = f.embeddings
            for src in f.x:
                out[f"r{rid}.{src}.x"], out[f"r{rid}.{src}.rows"] = f.x[src], f.rows[src]
        return {k: np.ascontiguousarray(v, np.float64) for k, v in out.items()}

    def _head(self) -> dict[str, str]:
        return {
            "format": FEEDBACK_FORMAT,
            "version": str(FEEDBACK_VERSION),
            "detector_checksum": self.detector_checksum,
            "records": json.dumps([asdict(r) for r in self.records], sort_keys=True),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a process killed at any moment leaves the old file or the new one."""
        tensors = self._tensors()
        head = self._head()
        meta = {**head, "checksum": _digest(head, tensors)}
        save_tensors(path, {k: torch.from_numpy(v) for k, v in tensors.items()}, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str], det: Detector, detector_checksum: str) -> FeedbackLog:
        """Read and check a sidecar of the detector ``det`` (whose base checksum is given)."""
        path = Path(path)
        try:
            meta = read_safetensors_metadata(path)
            raw = {k: v.numpy() for k, v in load_tensors(path).items()}
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any unreadable file is one clear line
            raise ModelError(f"{path}: not a readable feedback file ({e})") from None
        if meta.get("format") != FEEDBACK_FORMAT:
            raise ModelError(f"{path}: not a skelprompt feedback file")
        if meta.get("version") != str(FEEDBACK_VERSION):
            raise ModelError(
                f"{path}: feedback file version {meta.get('version')!r} is not one this skelprompt reads"
            )
        head = {k: meta.get(k, "") for k in ("format", "version", "detector_checksum", "records")}
        tensors = {k: np.ascontiguousarray(v, np.float64) for k, v in raw.items()}
        if meta.get("checksum") != _digest(head, tensors):
            raise ModelError(
                f"{path}: checksum mismatch: the feedback file was changed outside skelprompt; "
                "restore it, or remove it to drop the feedback"
            )
        if head["detector_checksum"] != detector_checksum:
            raise ModelError(
                f"{path}: this feedback belongs to another detector (checksum "
                f"{head['detector_checksum'][:12]}, the detector's {detector_checksum[:12]})"
            )
        log = cls(detector_checksum)
        log.records = _records(path, head["records"])
        log.features = _features(path, log.records, tensors, det)
        return log


def _text(s: str) -> str:
    return " ".join(str(s).split())[:MAX_TEXT]


def _digest(head: dict[str, str], tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,), "verdict": (str,), "by": (str,), "at": (str,), "about": (dict,),
    "windows": (int,), "undoes": (int, type(None)), "note": (str,),
}  # fmt: skip


def _records(path: Path, text: str) -> list[FeedbackRecord]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise ModelError(f"{path}: metadata field 'records' is not JSON") from None
    if not isinstance(items, list):
        raise ModelError(f"{path}: metadata field 'records' must be a list")
    out: list[FeedbackRecord] = []
    for i, d in enumerate(items):
        where = f"{path}: feedback record {i + 1}"
        if not isinstance(d, dict) or set(d) != set(_RECORD_TYPES):
            raise ModelError(f"{where} must be an object with the fields {sorted(_RECORD_TYPES)}")
        for k, types in _RECORD_TYPES.items():
            if isinstance(d[k], bool) or not isinstance(d[k], types):
                raise ModelError(f"{where}: field {k!r} has the wrong type ({d[k]!r})")
        r = FeedbackRecord(**d)
        known = {x.id for x in out}
        if r.id in known or r.id < 1 or r.verdict not in (*VERDICTS, UNDO) or r.windows < 0:
            raise ModelError(f"{where}: bad id, verdict or window count")
        if r.verdict == UNDO and (r.undoes not in known or r.windows != 0):
            raise ModelError(f"{where}: an undo must name an earlier record and hold no windows")
        out.append(r)
    return out


def _features(
    path: Path, records: list[FeedbackRecord], tensors: dict[str, np.ndarray], det: Detector
) -> dict[int, WindowFeatures]:
    """Every verdict's tensors, each shape checked against the detector."""
    srcs = det.config.sources
    emb_dim = det.model.cfg.text_dim
    out: dict[int, WindowFeatures] = {}
    used: set[str] = set()

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        a = tensors.get(name)
        if a is None:
            raise ModelError(f"{path}: tensor {name!r} is missing")
        if a.shape != shape or not np.isfinite(a).all():
            raise ModelError(f"{path}: tensor {name!r} has shape {a.shape} or values unlike {shape}, finite")
        used.add(name)
        return a

    for r in records:
        if r.verdict == UNDO:
            continue
        n = r.windows
        f = WindowFeatures(get(f"r{r.id}.embeddings", (n, emb_dim)))
        for src in srcs:
            d = sources.feature_dim(det.config, det.model.cfg, src)
            f.x[src] = get(f"r{r.id}.{src}.x", (n, d))
            rows = tensors.get(f"r{r.id}.{src}.rows")
            if rows is None or rows.ndim != 2 or n == 0 or len(rows) % n:
                raise ModelError(
                    f"{path}: tensor 'r{r.id}.{src}.rows' is missing or not a multiple of {n} rows"
                )
            f.rows[src] = get(f"r{r.id}.{src}.rows", (len(rows), d))
        out[r.id] = f
    extra = sorted(set(tensors) - used)
    if extra:
        raise ModelError(f"{path}: tensors {extra[:3]} belong to no feedback record")
    return out


def _join(parts: list[WindowFeatures]) -> WindowFeatures | None:
    if not parts:
        return None
    srcs = list(parts[0].x)
    return WindowFeatures(
        np.concatenate([p.embeddings for p in parts]),
        {s: np.concatenate([p.x[s] for p in parts]) for s in srcs},
        {s: np.concatenate([p.rows[s] for p in parts]) for s in srcs},
    )


# How dismissed windows count against a new window's k-NN distance: "nearest" (the default):
# the distance to the nearest dismissed window when that is smaller (one dismissed look-alike
# is enough: an operator who dismissed it once means it); "bank": the dismissed rows join the
# memory bank and count as one neighbour of k, like any fitted normal window.
FEEDBACK_MODES = ("nearest", "bank")


class DismissedKnn(KnnScorer):
    """k-NN over the fitted normal rows, or the distance to the nearest dismissed window's row
    when that is smaller. Stored (``to_tensors``) as one memory bank holding both."""

    def __init__(self, fitted: KnnScorer, rows: np.ndarray, groups: np.ndarray) -> None:
        super().__init__(fitted.k)
        self.fitted = fitted
        self.normal, self.groups, self.mean = fitted.normal, fitted.groups, fitted.mean
        self.dismissed, self.dismissed_groups = rows, groups

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return np.minimum(self.fitted.decision_function(x), knn_distance(x, self.dismissed, 1))

    def to_tensors(self) -> dict[str, np.ndarray]:
        merged = KnnScorer(self.k).fit(
            np.concatenate([self.normal, self.dismissed]),
            np.concatenate([self.groups, self.dismissed_groups]),
        )
        return merged.to_tensors()


def with_feedback(base: Detector, log: FeedbackLog, mode: str = "nearest") -> Detector:
    """A copy of ``base`` with the active false alarms in its normal set (``base`` untouched).

    The new windows' rows (as groups of their own, so a window never counts as its own
    neighbour) are consulted by every k-NN scorer as ``mode`` says; their cross-fitted
    distances and embeddings join the normal statistics (so the threshold follows); the
    normal distances of the fitted windows are kept as they were.
    """
    if mode not in FEEDBACK_MODES:
        raise ValueError(f"feedback mode {mode!r}: choose from {FEEDBACK_MODES}")
    normal_ood, normal_embeddings = base._check_fitted()
    active = log.active()
    det = copy.copy(base)
    det.info = {
        **base.info,
        "feedback": {
            "false_alarms": sum(r.verdict == FALSE_ALARM for r in active),
            "true_alarms": sum(r.verdict == TRUE_ALARM for r in active),
            "records": len(log.records),
            "base_checksum": log.detector_checksum,
        },
    }
    added = _join([log.features[r.id] for r in active if r.verdict == FALSE_ALARM])
    if added is None:
        return det
    _check_scorers(base)
    n0, m = len(normal_ood), len(added)
    own = n0 + np.arange(m)
    det.scorers, det.normal_dists = {}, {}
    for src, sc in base.scorers.items():
        assert isinstance(sc, KnnScorer)
        rows = added.rows[src]
        groups = np.tile(own, len(rows) // m)
        x = added.x[src]
        if mode == "nearest":
            det.scorers[src] = DismissedKnn(sc, rows, groups)
            d = np.minimum(
                sc.decision_function(x), knn_distance(x, rows, 1, x_groups=own, reference_groups=groups)
            )
        else:
            new = copy.copy(sc)
            new.normal = np.concatenate([sc.normal, rows])
            new.groups = np.concatenate([sc.groups, groups])
            det.scorers[src] = new
            d = knn_distance(x, new.normal, new.k, x_groups=own, reference_groups=new.groups)
        det.normal_dists[src] = np.concatenate([base.normal_dists[src], d])
    det.normal_embeddings = np.concatenate([normal_embeddings, added.embeddings])
    det.normal_ood = det._combine_sources(det.normal_dists)
    return det


def base_checksum(det: Detector) -> str:
    """The checksum of the detector as fitted (before any feedback)."""
    return str((det.info.get("feedback") or {}).get("base_checksum") or det.checksum())


def read_log(det: Detector, path: Path) -> FeedbackLog:
    """The sidecar at ``path`` of the (base) detector ``det``; an empty log when there is none."""
    checksum = det.checksum()
    if not path.exists():
        return FeedbackLog(checksum)
    return FeedbackLog.load(path, det, checksum)


def load_with_feedback(
    path: str | os.PathLike[str], expect_model: SkeletonTextModel | None = None
) -> Detector:
    """The detector file at ``path`` with the operator feedback of its sidecar
    (``NAME.feedback.safetensors``) applied: what scoring uses."""
    return apply_sidecar(Detector.load(path, expect_model), path)


def apply_sidecar(det: Detector, detector_path: str | os.PathLike[str]) -> Detector:
    """``det`` (just loaded) with the feedback of its sidecar applied, if there is one."""
    path = sidecar_path(detector_path)
    if not path.exists():
        return det
    return with_feedback(det, read_log(det, path))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s lock file: one writer (a CLI call or ``serve``) at a time."""
    lock = path.with_name(path.name + ".lock")
    try:
        import fcntl
    except ImportError:  # not POSIX: writes are still atomic, only not serialised
        yield
        return
    with open(lock, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
