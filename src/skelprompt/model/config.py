"""Network size presets. The config is saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from skelprompt.points import PointConfig


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
        d = dict(d)
        d["points"] = PointConfig.from_dict(d.get("points", {}))
        for k in ("embed_dims", "fourier_freqs", "class_names"):
            if k in d:
                d[k] = tuple(d[k])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


PRESETS: dict[str, ModelConfig] = {
    "small": ModelConfig(),
    "paper": ModelConfig(embed_dims=(64, 128, 256, 512, 1024), num_blocks=3),
}
