"""Few-shot anomaly exemplars: a handful of clips showing the anomaly, kept beside the normal set.

On the detector's raw-pose descriptor (when it has one; else on each of its OoD sources), the
exemplars' rows (with their mirrored / person-swapped variants when the detector is symmetric) form a
second, tiny memory bank. A clip's exemplar evidence on a source is how much nearer it lies to
the anomaly bank than to the normal one, ``log d_N(x) - log d_A(x)`` (``d_N``: the detector's
k-NN OoD distance; ``d_A``: the distance to the nearest exemplar row); it is standardised on
the normal clips like the other terms (0 = typical normal, 1 = the calibration percentile), the
sources' standardised evidences are averaged, and ``weight`` times that is added to the
zero-shot anomaly score. The normal clips' evidence uses their cross-fitted distances, so the
threshold is not flattered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelprompt.detector import sources
from skelprompt.detector.config import DetectorConfig
from skelprompt.errors import ModelError
from skelprompt.scoring import knn_distance, standardised

DEFAULT_EXEMPLAR_WEIGHT = 2.0  # measured best of 0.5, 1, 2, 4 on sbu- and k3hi-violence (README, few-shot)
TINY = 1e-9  # distances are floored here before the log (a clip identical to an exemplar)
MAX_EXEMPLARS = 10_000


def exemplar_evidence(normal_dist: np.ndarray, anomaly_dist: np.ndarray) -> np.ndarray:
    """``log d_N - log d_A``: > 0 where a clip is nearer the anomaly exemplars than the normals."""
    return np.log(np.maximum(normal_dist, TINY)) - np.log(np.maximum(anomaly_dist, TINY))


def exemplar_rows(
    config: DetectorConfig,
    feats: np.ndarray,
    extra: dict[str, np.ndarray],
    only: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Per source (of ``only``, default all): the exemplars' prepared rows, every variant of
    every clip ``[V * n, D]``."""
    out = {}
    for src, x in sources.source_arrays(config, feats, extra).items():
        if only is not None and src not in only:
            continue
        v = sources.variants(config, src, x, extra)
        out[src] = v.reshape(-1, v.shape[-1])
    return out


def exemplar_sources(config: DetectorConfig) -> tuple[str, ...]:
    """The sources exemplar distances are measured on: the raw-pose descriptor when the
    detector has it (measured best: README, few-shot), else all of the detector's."""
    return ("pose",) if "pose" in config.sources else config.sources


@dataclass
class AnomalyExemplars:
    """The exemplar banks and the normal clips' evidence, for one fitted detector."""

    rows: dict[str, np.ndarray]  # per source: [R, D]
    normal_evidence: dict[str, np.ndarray]  # per source: the normal clips' raw evidence
    count: int  # exemplar clips
    weight: float = DEFAULT_EXEMPLAR_WEIGHT
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        config: DetectorConfig,
        feats: np.ndarray,
        extra: dict[str, np.ndarray],
        normal_arrays: dict[str, np.ndarray],
        normal_dists: dict[str, np.ndarray],
        weight: float = DEFAULT_EXEMPLAR_WEIGHT,
        only: tuple[str, ...] | None = None,
    ) -> AnomalyExemplars:
        """From the exemplars' features (``Detector.features(clips, for_fit=True)``) and the
        fitted detector's normal features and cross-fitted distances per source; ``only``:
        the sources to measure exemplar distances on (default :func:`exemplar_sources`)."""
        only = exemplar_sources(config) if only is None else only
        if not set(only) <= set(config.sources) or not only:
            raise ModelError(f"exemplar sources {only} must be some of the detector's {config.sources}")
        if len(feats) == 0:
            raise ModelError("no anomaly examples given")
        if len(feats) > MAX_EXEMPLARS:
            raise ModelError(f"at most {MAX_EXEMPLARS} anomaly examples, got {len(feats)}")
        rows = exemplar_rows(config, feats, extra, only)
        normal_ev = {
            s: exemplar_evidence(normal_dists[s], knn_distance(normal_arrays[s], rows[s], 1)) for s in rows
        }
        return cls(rows, normal_ev, len(feats), weight)

    def evidence(
        self, arrays: dict[str, np.ndarray], dists: dict[str, np.ndarray], percentile: float
    ) -> np.ndarray:
        """Standardised evidence of clips with prepared features ``arrays`` and OoD distances
        ``dists`` (per source), averaged over the sources."""
        parts = [
            standardised(
                exemplar_evidence(dists[s], knn_distance(arrays[s], r, 1)),
                self.normal_evidence[s],
                percentile,
            )
            for s, r in self.rows.items()
        ]
        return np.mean(parts, axis=0)

    def normal_scores(self, percentile: float) -> np.ndarray:
        """The normal clips' standardised evidence (for the threshold)."""
        return np.mean([standardised(e, e, percentile) for e in self.normal_evidence.values()], axis=0)

    def to_tensors(self) -> dict[str, np.ndarray]:
        out = {}
        for s in self.rows:
            out[f"exemplars.{s}.rows"] = self.rows[s]
            out[f"exemplars.{s}.normal_evidence"] = self.normal_evidence[s]
        return out

    def to_meta(self) -> dict[str, Any]:
        return {"count": self.count, "weight": self.weight, "sources": sorted(self.rows), "info": self.info}

    @classmethod
    def from_file(
        cls, path: object, meta: dict[str, Any], tensors: dict[str, np.ndarray], config: DetectorConfig,
        num_normal: int, dims: dict[str, int],
    ) -> AnomalyExemplars:  # fmt: skip
        """Rebuild from a detector file's ``exemplars`` metadata and tensors, checking each."""
        count, weight, srcs = meta.get("count"), meta.get("weight"), meta.get("sources")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_EXEMPLARS:
            raise ModelError(
                f"{path}: exemplars count must be an integer in 1..{MAX_EXEMPLARS}, got {count!r}"
            )
        if (
            not isinstance(weight, (int, float))
            or isinstance(weight, bool)
            or not np.isfinite(weight)
            or weight < 0
        ):
            raise ModelError(f"{path}: exemplars weight must be a finite number >= 0, got {weight!r}")
        if not isinstance(srcs, list) or not srcs or srcs != sorted(set(srcs) & set(config.sources)):
            raise ModelError(
                f"{path}: exemplars sources must be some of {sorted(config.sources)}, got {srcs!r}"
            )
        info = meta.get("info", {})
        if not isinstance(info, dict):
            raise ModelError(f"{path}: exemplars info must be an object")
        rows, ev = {}, {}
        for s in srcs:
            r = tensors.get(f"exemplars.{s}.rows")
            e = tensors.get(f"exemplars.{s}.normal_evidence")
            if r is None or r.ndim != 2 or r.shape[1] != dims[s] or not 1 <= len(r) <= 16 * MAX_EXEMPLARS:
                raise ModelError(f"{path}: tensor exemplars.{s}.rows is missing or not [rows, {dims[s]}]")
            if e is None or e.shape != (num_normal,):
                raise ModelError(
                    f"{path}: tensor exemplars.{s}.normal_evidence is missing or not [{num_normal}]"
                )
            if not (np.isfinite(r).all() and np.isfinite(e).all()):
                raise ModelError(f"{path}: exemplars of source {s} hold NaN or infinite values")
            rows[s], ev[s] = np.asarray(r, np.float64), np.asarray(e, np.float64)
        return cls(rows, ev, int(count), float(weight), info)
