"""Network size presets. The config is saved inside every checkpoint.

:meth:`ModelConfig.from_dict` reads a config from a file, so it checks every field's type and
sane range (and the size of the network the config asks for) before anything is built: a
model file claiming ``embed_dims [64, 128, 1e9]`` is a clear :class:`ModelConfigError`, not a
512 GB allocation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from skelprompt.errors import ModelConfigError
from skelprompt.io.fields import (
    describe,
    is_int,
    is_real,
    require_dict,
    require_int,
    require_list,
    require_real,
    require_str,
)
from skelprompt.model.text import TEXT_ENCODERS, unknown_text_encoder
from skelprompt.points import PointConfig

# Sane ranges; the presets use at most 5 layers of width 1024 and about 5 million weights.
MAX_LAYERS = 16
MAX_WIDTH = 8192
MAX_BLOCKS = 64
MAX_FREQS = 64
MAX_FREQ = 1e4
MAX_CLASSES = 100_000
MAX_PARAMETERS = 64_000_000  # 256 MB of float32 weights
MAX_FRAMES = 1024
MAX_PERSONS = 64
MAX_POINTS_FRAMES_X_PERSONS = 4096  # x 13 joints = points per clip at inference
MAX_SPAN = 1000.0
NORMS = ("body", "image", "bbox")


@dataclass(frozen=True)
class ModelConfig:
    embed_dims: tuple[int, ...] = (64, 128, 256)  # per-point MLP 7 -> ... -> feature_dim
    num_blocks: int = 2  # residual Linear-LayerNorm-ReLU-Dropout blocks at feature_dim
    fourier_freqs: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # sin/cos features of the 7-D input
    dropout: float = 0.1
    num_classes: int = 0  # classifier head size (0 = no head, e.g. an untrained encoder)
    text_dim: int = 384  # projection output = the text encoder's dimension
    text_encoder: str = "all-MiniLM-L6-v2"
    class_names: tuple[str, ...] = ()
    points: PointConfig = field(default_factory=PointConfig)

    @property
    def feature_dim(self) -> int:
        return self.embed_dims[-1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["points"] = self.points.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """A config from its dict form (as saved in a file); unknown keys are ignored, a field of
        the wrong type or out of range raises :class:`ModelConfigError` naming the field."""
        d = dict(require_dict(d, "model config", "the config", ModelConfigError))
        d["points"] = _points(d.get("points", {}))
        for k in ("embed_dims", "fourier_freqs", "class_names"):
            if k in d:
                d[k] = tuple(require_list(d[k], "model config", k, ModelConfigError))
        _check_fields(d)
        known = set(cls.__dataclass_fields__)
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        n = parameter_count(cfg)
        if n > MAX_PARAMETERS:
            raise ModelConfigError(
                f"model config: the network would have {n:,} weights; at most {MAX_PARAMETERS:,} are allowed"
            )
        return cfg


def _points(raw: Any) -> PointConfig:
    where, err = "model config", ModelConfigError
    p = require_dict(raw, where, "points", err)
    if "frames" in p:
        require_int(p["frames"], where, "points.frames", lo=1, hi=MAX_FRAMES, error=err)
    if "persons" in p:
        require_int(p["persons"], where, "points.persons", lo=1, hi=MAX_PERSONS, error=err)
    if "norm" in p and p["norm"] not in NORMS:
        raise err(f"{where}: points.norm must be one of {', '.join(NORMS)}, got {p['norm']!r}")
    if "span" in p:
        require_real(p["span"], where, "points.span", lo=0, hi=MAX_SPAN, lo_open=True, error=err)
    cfg = PointConfig.from_dict(p)
    if cfg.frames * cfg.persons > MAX_POINTS_FRAMES_X_PERSONS:
        raise err(
            f"{where}: points.frames x points.persons = {cfg.frames * cfg.persons}; at most "
            f"{MAX_POINTS_FRAMES_X_PERSONS} are allowed"
        )
    return cfg


def _check_fields(d: dict[str, Any]) -> None:
    """Types and ranges of the fields present in ``d`` (missing ones take their defaults)."""
    where, err = "model config", ModelConfigError
    if "embed_dims" in d:
        dims = d["embed_dims"]
        rule = f"embed_dims must be 1 to {MAX_LAYERS} layer widths, each an integer in 1..{MAX_WIDTH}"
        if not 1 <= len(dims) <= MAX_LAYERS:
            raise err(f"{where}: {rule}; got {len(dims)} widths")
        for i, v in enumerate(dims):
            if not (is_int(v) and 1 <= v <= MAX_WIDTH):
                why = "is too wide" if is_real(v) and v > MAX_WIDTH else "is not an allowed width"
                raise err(f"{where}: embed_dims[{i}] = {describe(v)} {why}: {rule}")
    if "fourier_freqs" in d:
        if len(d["fourier_freqs"]) > MAX_FREQS:
            raise err(f"{where}: fourier_freqs has {len(d['fourier_freqs'])} entries; at most {MAX_FREQS}")
        for f in d["fourier_freqs"]:
            require_real(f, where, "every fourier_freqs entry", lo=-MAX_FREQ, hi=MAX_FREQ, error=err)
    if "class_names" in d and not all(isinstance(c, str) for c in d["class_names"]):
        raise err(f"{where}: class_names must be strings")
    if "num_blocks" in d:
        require_int(d["num_blocks"], where, "num_blocks", lo=0, hi=MAX_BLOCKS, error=err)
    if "dropout" in d:
        require_real(d["dropout"], where, "dropout", lo=0.0, hi=1.0, error=err)
    if "num_classes" in d:
        require_int(d["num_classes"], where, "num_classes", lo=0, hi=MAX_CLASSES, error=err)
    if "text_dim" in d:
        require_int(d["text_dim"], where, "text_dim", lo=1, hi=MAX_WIDTH, error=err)
    if "text_encoder" in d:
        name = require_str(d["text_encoder"], where, "text_encoder", err)
        if name not in TEXT_ENCODERS:
            raise err(f"{where}: {unknown_text_encoder(name)}")


def weight_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The ``state_dict`` shapes of ``SkeletonTextModel(cfg)``, computed without building it
    (tests check them against the real module)."""
    from skelprompt.points import POINT_DIM

    s = cfg.feature_dim
    out: dict[str, tuple[int, ...]] = {"logit_scale": ()}
    dims = [POINT_DIM * (1 + 2 * len(cfg.fourier_freqs)), *cfg.embed_dims]
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        out |= {f"encoder.embed.{3 * i}.weight": (b, a), f"encoder.embed.{3 * i}.bias": (b,)}
        out |= {f"encoder.embed.{3 * i + 1}.weight": (b,), f"encoder.embed.{3 * i + 1}.bias": (b,)}
    for j in range(cfg.num_blocks):
        out |= {f"encoder.blocks.{j}.body.0.weight": (s, s), f"encoder.blocks.{j}.body.0.bias": (s,)}
        out |= {f"encoder.blocks.{j}.body.1.weight": (s,), f"encoder.blocks.{j}.body.1.bias": (s,)}
    if cfg.num_classes > 0:
        out |= {"classifier.weight": (cfg.num_classes, s), "classifier.bias": (cfg.num_classes,)}
    out |= {"projection.0.weight": (s, s), "projection.0.bias": (s,)}
    out |= {"projection.2.weight": (cfg.text_dim, s), "projection.2.bias": (cfg.text_dim,)}
    return out


def parameter_count(cfg: ModelConfig) -> int:
    total = 0
    for shape in weight_shapes(cfg).values():
        n = 1
        for v in shape:
            n *= v
        total += n
    return total


PRESETS: dict[str, ModelConfig] = {
    "small": ModelConfig(),
    "paper": ModelConfig(embed_dims=(64, 128, 256, 512, 1024), num_blocks=3),
}
