"""The detector: fit on normal clips (no gradient step), score clips with or without prompts.

PyOD-like: ``fit(clips)``, ``decision_function(clips, ...)`` (higher = more anomalous),
``predict(clips, ...)`` (1 = anomaly, using a threshold at the false-alarm rate chosen on the
normal clips). Normal clips' own OoD distances are cross-fitted (leave-one-out for k-NN, 5
folds for Mahalanobis) so the calibration and threshold are not flattered by in-sample fits.

A saved detector is one ``.safetensors`` file: the model's weights and the normal statistics
as tensors, configuration and provenance as JSON metadata. It is self-contained: scoring
needs no other file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

from skelprompt import __version__
from skelprompt.clip import Clip
from skelprompt.errors import ModelError
from skelprompt.model.checkpoint import (
    load_tensors,
    model_checksum,
    read_safetensors_metadata,
    save_tensors,
)
from skelprompt.model.config import ModelConfig
from skelprompt.model.features import extract_features
from skelprompt.model.network import SkeletonTextModel
from skelprompt.model.text import TextEncoder, get_text_encoder
from skelprompt.pose_descriptor import descriptor_variants, descriptors
from skelprompt.scoring import (
    COMBINES,
    combine_scores,
    knn_distance,
    mahalanobis,
    prompt_score,
    standardised,
    threshold_at_false_alarm_rate,
)

DETECTOR_FORMAT = "skelprompt-detector"
DETECTOR_VERSION = 1
OOD_METHODS = ("knn", "mahalanobis")
OOD_SOURCES = ("model", "random", "pose")
RANDOM_ENCODER_SEED = 0
RANDOM_ENCODER_FREQS = (1.0,)
RANDOM_ENCODER_SPAN = 8.0


@dataclass
class DetectorConfig:
    ood: str = "knn"  # "knn" | "mahalanobis" (the paper's)
    k: int = 5
    # what the OoD distance is measured on, "+"-joined: "model" (F of the model, the paper's),
    # "random" (F of a fixed randomly initialised encoder), "pose" (the raw-pose descriptor);
    # several sources add their standardised distances
    ood_features: str = "pose+model"  # the default measured best over the benchmarks (README)
    pose_persons: int = 2  # persons kept in the raw-pose descriptor
    pose_order_by_x: bool = True  # sort persons left to right per frame: immune to track-id switches
    # add the left/right mirror (and, for the pose descriptor, the person-swapped) versions of
    # every normal clip to the normal set: normal footage can show any actor on either side
    symmetric: bool = True
    normalize_features: bool = True  # L2-normalise encoder features before distances
    combine: str = "sum"  # "sum" | "paper" | "ood" | "prompt"
    prompt_weight: float = 0.25  # weight of the standardised prompt score in "sum"
    normal_weight: float = 0.5  # weight of the normal prompts when both kinds are given
    calibration_percentile: float = 99.0
    false_alarm_rate: float = 0.01

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.ood_features.split("+"))

    def __post_init__(self) -> None:
        if self.ood not in OOD_METHODS:
            raise ValueError(f"unknown OoD method {self.ood!r}; choose from {OOD_METHODS}")
        bad = [x for x in self.sources if x not in OOD_SOURCES] or len(set(self.sources)) != len(self.sources)
        if bad:
            raise ValueError(
                f"bad ood_features {self.ood_features!r}: '+'-join distinct names of {OOD_SOURCES}"
            )
        if self.combine not in COMBINES:
            raise ValueError(f"unknown combine method {self.combine!r}; choose from {COMBINES}")
        if not 0.0 <= self.false_alarm_rate < 1.0:
            raise ValueError(f"false_alarm_rate must be in [0, 1), got {self.false_alarm_rate}")


@dataclass
class Scores:
    """Per-clip scores. ``ood`` and ``prompt`` are raw; ``p_ood``/``p_prompt`` calibrated."""

    ood: np.ndarray
    prompt: np.ndarray
    p_ood: np.ndarray
    p_prompt: np.ndarray
    anomaly: np.ndarray
    threshold: float
    prompts: list[str] = field(default_factory=list)
    normal_prompts: list[str] = field(default_factory=list)

    @property
    def is_anomaly(self) -> np.ndarray:
        return self.anomaly > self.threshold


def random_encoder(model_cfg: ModelConfig) -> SkeletonTextModel:
    """The fixed randomly initialised encoder of the "random" OoD source.

    Its input features differ from the trained model's: one sin/cos frequency and a wider
    spatial span, which measured best for an untrained encoder (SBU OoD 0.86 against 0.72
    with the trained model's four frequencies; README, design choices). Its weights are
    stored in every detector that uses it, so scores never depend on the random generator.
    """
    cfg = ModelConfig.from_dict(
        {
            **model_cfg.to_dict(),
            "fourier_freqs": RANDOM_ENCODER_FREQS,
            "points": {**model_cfg.points.to_dict(), "span": RANDOM_ENCODER_SPAN},
            "num_classes": 0,
        }
    )
    torch.manual_seed(RANDOM_ENCODER_SEED)
    return SkeletonTextModel(cfg).eval()


class Detector:
    """Prompt-guided anomaly detector on top of a (frozen) skeleton-text model."""

    def __init__(
        self,
        model: SkeletonTextModel,
        config: DetectorConfig | None = None,
        text_encoder: TextEncoder | None = None,
    ) -> None:
        self.model = model
        self.config = config or DetectorConfig()
        self._text_encoder = text_encoder
        self.random_encoder: SkeletonTextModel | None = None
        if "random" in self.config.sources:
            self.random_encoder = random_encoder(model.cfg)
        # per OoD source: normal features, Ledoit-Wolf mean and precision, cross-fitted distances
        self.stats: dict[str, dict[str, np.ndarray]] = {}
        self.normal_embeddings: np.ndarray | None = None
        self.normal_ood: np.ndarray | None = None
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------ features
    @property
    def is_fitted(self) -> bool:
        return self.normal_ood is not None

    def features(
        self, clips: list[Clip], progress: bool = False, for_fit: bool = False
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(F(x), f(x), other OoD sources)`` for clips; pass them to fit_/score_features.

        With ``for_fit`` and ``config.symmetric``, the encoder features of the mirrored clips
        come too (as ``"<source>_mirror"``)."""
        feats, embs = extract_features(self.model, clips, progress=progress)
        extra: dict[str, np.ndarray] = {}
        if self.random_encoder is not None:
            extra["random"] = extract_features(self.random_encoder, clips)[0]
        if "pose" in self.config.sources:
            extra["pose"] = descriptors(
                clips, self.config.pose_persons, order_by_x=self.config.pose_order_by_x
            )
        if for_fit and self.config.symmetric:
            mirrored = [c.mirrored() for c in clips]
            if "model" in self.config.sources:
                extra["model_mirror"] = extract_features(self.model, mirrored)[0]
            if self.random_encoder is not None:
                extra["random_mirror"] = extract_features(self.random_encoder, mirrored)[0]
        return feats, embs, extra

    def _prep(self, source: str, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats, np.float64)
        if source != "pose" and self.config.normalize_features:
            feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
        return feats

    def _source_arrays(self, feats: np.ndarray, extra: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        extra = extra or {}
        out = {}
        for src in self.config.sources:
            arr = feats if src == "model" else extra.get(src)
            if arr is None:
                raise ModelError(
                    f"OoD source {src!r} needs its features: compute them with Detector.features()"
                )
            out[src] = self._prep(src, arr)
        return out

    # ------------------------------------------------------------------ fitting
    def fit(self, clips: list[Clip], progress: bool = False) -> Detector:
        """Store the statistics of the OoD features on normal clips. Needs at least 3 clips."""
        if len(clips) < 3:
            raise ModelError(f"fitting needs at least 3 normal clips, got {len(clips)}")
        feats, embs, extra = self.features(clips, progress=progress, for_fit=True)
        self.fit_features(feats, embs, extra)
        self.info.update({"num_normal_clips": len(clips)})
        return self

    def _variants(self, src: str, x: np.ndarray, extra: dict[str, np.ndarray]) -> np.ndarray:
        """[V, N, D]: the normal features and, when symmetric, those of the mirrored clips."""
        if not self.config.symmetric:
            return x[None]
        if src == "pose":
            return descriptor_variants(x, self.config.pose_persons)
        mirror = extra.get(f"{src}_mirror")
        if mirror is None:
            raise ModelError(
                "symmetric fitting needs the mirrored clips' features: use Detector.features(..., for_fit=True)"
            )
        return np.stack([x, self._prep(src, mirror)])

    def fit_features(
        self, feats: np.ndarray, embs: np.ndarray, extra: dict[str, np.ndarray] | None = None
    ) -> Detector:
        """Fit from precomputed features (``Detector.features(clips, for_fit=True)``)."""
        extra = extra or {}
        self.normal_embeddings = np.asarray(embs, np.float64)
        self.stats = {}
        for src, x in self._source_arrays(feats, extra).items():
            variants = self._variants(src, x, extra)
            ref = variants.reshape(-1, variants.shape[-1])
            groups = np.tile(np.arange(len(x)), len(variants))
            if self.config.ood == "mahalanobis":
                lw = LedoitWolf().fit(ref)
                mean, precision = lw.location_, lw.get_precision()
            else:  # k-NN needs no covariance (skipping it keeps large descriptors cheap)
                mean, precision = ref.mean(0), np.zeros((0, 0))
            self.stats[src] = {
                "normal": ref,
                "groups": groups.astype(np.float64),
                "mean": mean,
                "precision": precision,
                "normal_dist": self._cross_fitted_ood(x, ref, groups),
            }
        self.normal_ood = self._combine_sources({s: st["normal_dist"] for s, st in self.stats.items()})
        return self

    def _cross_fitted_ood(self, x: np.ndarray, ref: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Each normal clip's distance to the normal set without itself (or its variants)."""
        n = len(x)
        if self.config.ood == "knn":
            d2 = (x * x).sum(1)[:, None] + (ref * ref).sum(1)[None, :] - 2.0 * x @ ref.T
            d = np.sqrt(np.maximum(d2, 0.0))
            d[groups[None, :] == np.arange(n)[:, None]] = np.inf
            kk = max(1, min(self.config.k, int(np.isfinite(d[0]).sum())))
            return np.partition(d, kk - 1, axis=1)[:, :kk].mean(1)
        folds = np.arange(n) % min(5, n)
        out = np.zeros(n)
        for f in np.unique(folds):
            lw = LedoitWolf().fit(ref[folds[groups] != f])
            out[folds == f] = mahalanobis(x[folds == f], lw.location_, lw.get_precision())
        return out

    def _combine_sources(self, dists: dict[str, np.ndarray]) -> np.ndarray:
        """One source: its raw distance. Several: the sum of their standardised distances."""
        if len(dists) == 1:
            return next(iter(dists.values()))
        pct = self.config.calibration_percentile
        return sum(standardised(d, self.stats[s]["normal_dist"], pct) for s, d in dists.items())

    # ------------------------------------------------------------------ scoring
    def text_encoder(self) -> TextEncoder:
        if self._text_encoder is None:
            self._text_encoder = get_text_encoder(self.model.cfg.text_encoder)
        enc = self._text_encoder
        if enc.dim != self.model.cfg.text_dim:
            raise ModelError(
                f"text encoder {enc.name!r} gives {enc.dim}-d embeddings, the model projects to {self.model.cfg.text_dim}"
            )
        return enc

    def _embed(self, texts: list[str] | None) -> np.ndarray | None:
        if not texts:
            return None
        return self.text_encoder().encode(list(texts)).astype(np.float64)

    def ood_distance(self, feats: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> np.ndarray:
        self._check_fitted()
        dists = {}
        for src, x in self._source_arrays(feats, extra).items():
            st = self.stats[src]
            if self.config.ood == "knn":
                dists[src] = knn_distance(x, st["normal"], self.config.k)
            else:
                dists[src] = mahalanobis(x, st["mean"], st["precision"])
        return self._combine_sources(dists)

    def score_features(
        self,
        feats: np.ndarray,
        embs: np.ndarray,
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
        extra: dict[str, np.ndarray] | None = None,
    ) -> Scores:
        """Scores from precomputed features (see :meth:`score`)."""
        self._check_fitted()
        ya, yn = self._embed(prompts), self._embed(normal_prompts)
        ood = self.ood_distance(feats, extra)
        ps = prompt_score(np.asarray(embs, np.float64), ya, yn, self.config.normal_weight)
        ps_normal = prompt_score(self.normal_embeddings, ya, yn, self.config.normal_weight)
        use_prompt = ya is not None or yn is not None
        args = dict(
            method=self.config.combine,
            percentile=self.config.calibration_percentile,
            use_prompt=use_prompt,
            prompt_weight=self.config.prompt_weight,
        )
        p_o, p_t, anomaly = combine_scores(ood, ps, self.normal_ood, ps_normal, **args)
        _, _, normal_anomaly = combine_scores(self.normal_ood, ps_normal, self.normal_ood, ps_normal, **args)
        rate = self.config.false_alarm_rate if false_alarm_rate is None else false_alarm_rate
        return Scores(
            ood=ood,
            prompt=ps,
            p_ood=p_o,
            p_prompt=p_t,
            anomaly=anomaly,
            threshold=threshold_at_false_alarm_rate(normal_anomaly, rate),
            prompts=list(prompts or []),
            normal_prompts=list(normal_prompts or []),
        )

    def score(
        self,
        clips: list[Clip],
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
        progress: bool = False,
    ) -> Scores:
        """OoD, prompt and anomaly scores for ``clips`` and the threshold for the prompts given."""
        self._check_fitted()
        feats, embs, extra = self.features(clips, progress=progress)
        return self.score_features(feats, embs, prompts, normal_prompts, false_alarm_rate, extra)

    def decision_function(
        self, clips: list[Clip], prompts: list[str] | None = None, normal_prompts: list[str] | None = None
    ) -> np.ndarray:
        return self.score(clips, prompts, normal_prompts).anomaly

    def predict(
        self,
        clips: list[Clip],
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
    ) -> np.ndarray:
        return self.score(clips, prompts, normal_prompts, false_alarm_rate).is_anomaly.astype(int)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ModelError("the detector is not fitted: call fit() on normal clips first")

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the detector (model weights included) atomically to one safetensors file."""
        self._check_fitted()
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.random_encoder is not None:
            tensors.update({f"random_encoder.{k}": v for k, v in self.random_encoder.state_dict().items()})
        tensors["detector.normal_embeddings"] = torch.from_numpy(np.ascontiguousarray(self.normal_embeddings))
        tensors["detector.normal_ood"] = torch.from_numpy(np.ascontiguousarray(self.normal_ood))
        for src, st in self.stats.items():
            for name, arr in st.items():
                tensors[f"ood.{src}.{name}"] = torch.from_numpy(np.array(arr, copy=True))  # no shared memory
        meta = {
            "format": DETECTOR_FORMAT,
            "version": str(DETECTOR_VERSION),
            "skelprompt_version": __version__,
            "detector_config": json.dumps(asdict(self.config)),
            "model_config": json.dumps(self.model.cfg.to_dict()),
            "model_checksum": model_checksum(self.model),
            "model_provenance": json.dumps(getattr(self.model, "provenance", {})),
            "info": json.dumps(self.info),
        }
        save_tensors(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str], expect_model: SkeletonTextModel | None = None) -> Detector:
        """Load a detector; with ``expect_model``, fail clearly if it was fitted with another model."""
        path = Path(path)
        meta = read_safetensors_metadata(path)
        if meta.get("format") != DETECTOR_FORMAT:
            hint = (
                " (this is a model file; fit a detector with `skelprompt fit`)"
                if meta.get("format") == "skelprompt-model"
                else ""
            )
            raise ModelError(f"{path}: not a skelprompt detector file{hint}")
        if int(meta.get("version", "0")) > DETECTOR_VERSION:
            raise ModelError(
                f"{path}: detector file version {meta['version']} is newer than this skelprompt reads"
            )
        try:
            mcfg = ModelConfig.from_dict(json.loads(meta["model_config"]))
            dcfg = DetectorConfig(**json.loads(meta["detector_config"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{path}: malformed detector metadata ({e})") from None
        if expect_model is not None and model_checksum(expect_model) != meta.get("model_checksum"):
            raise ModelError(
                f"{path}: this detector was fitted with another model (checksum {meta.get('model_checksum', '?')[:12]}, "
                f"given model {model_checksum(expect_model)[:12]}); refit it with this model or drop --model"
            )
        tensors = load_tensors(path)
        model = SkeletonTextModel(mcfg)
        state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        expected = model.state_dict()
        if set(state) != set(expected) or any(
            tuple(state[k].shape) != tuple(v.shape) for k, v in expected.items()
        ):
            raise ModelError(f"{path}: the stored model weights do not match the stored model config")
        model.load_state_dict(state)
        model.eval()
        model.provenance = json.loads(meta.get("model_provenance", "{}"))  # type: ignore[attr-defined]
        det = cls(model, dcfg)
        if det.random_encoder is not None:
            rstate = {
                k[len("random_encoder.") :]: v for k, v in tensors.items() if k.startswith("random_encoder.")
            }
            try:
                det.random_encoder.load_state_dict(rstate)
            except RuntimeError:
                raise ModelError(
                    f"{path}: the stored random encoder does not match the model config"
                ) from None
        try:
            det.normal_embeddings = tensors["detector.normal_embeddings"].numpy().astype(np.float64)
            det.normal_ood = tensors["detector.normal_ood"].numpy().astype(np.float64)
            for src in dcfg.sources:
                det.stats[src] = {
                    name: tensors[f"ood.{src}.{name}"].numpy().astype(np.float64)
                    for name in ("normal", "groups", "mean", "precision", "normal_dist")
                }
        except KeyError as e:
            raise ModelError(f"{path}: detector statistics missing ({e})") from None
        n = det.normal_ood.shape[0]
        for src, st in det.stats.items():
            d = mcfg.feature_dim if src != "pose" else st["normal"].shape[1]
            v = st["normal"].shape[0]
            want_precision = (d, d) if dcfg.ood == "mahalanobis" else (0, 0)
            if (
                st["normal"].shape != (v, d)
                or st["mean"].shape != (d,)
                or st["precision"].shape != want_precision
                or v % n
            ):
                raise ModelError(f"{path}: statistics of OoD source {src!r} have inconsistent shapes")
        if det.normal_embeddings.shape != (n, mcfg.text_dim):
            raise ModelError(
                f"{path}: stored embeddings do not match the model's text dimension {mcfg.text_dim}"
            )
        det.info = json.loads(meta.get("info", "{}"))
        det.info["model_checksum"] = meta.get("model_checksum")
        return det
