"""Torch modules: the point encoder F, the classifier head and the text projection f.

F embeds each 7-D point with a shared MLP (after sin/cos features of the input), refines it
with residual blocks, and max-pools over the valid points. The max over a set does not depend
on the order of its elements, so F is invariant to the order of points (tested). These
modules know nothing about files or data sets.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from skelprompt.model.config import ModelConfig
from skelprompt.points import POINT_DIM


class FourierFeatures(nn.Module):
    """x -> [x, sin(2 pi f x), cos(2 pi f x)] for each input dimension and frequency."""

    freqs: torch.Tensor

    def __init__(self, freqs: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer(
            "freqs", torch.tensor(freqs, dtype=torch.float32) * 2 * math.pi, persistent=False
        )

    @property
    def expansion(self) -> int:
        return 1 + 2 * len(self.freqs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.freqs) == 0:
            return x
        ang = x.unsqueeze(-1) * self.freqs  # [..., D, F]
        return torch.cat([x, ang.sin().flatten(-2), ang.cos().flatten(-2)], dim=-1)


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(dim, dim), nn.LayerNorm(dim), nn.ReLU(inplace=True), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PointEncoder(nn.Module):
    """F: points [B, N, 7] + mask [B, N] -> clip features [B, S]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.fourier = FourierFeatures(cfg.fourier_freqs)
        dims = [POINT_DIM * self.fourier.expansion, *cfg.embed_dims]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), nn.LayerNorm(b), nn.ReLU(inplace=True)]
        self.embed = nn.Sequential(*layers)
        self.blocks = nn.Sequential(
            *[ResidualBlock(cfg.feature_dim, cfg.dropout) for _ in range(cfg.num_blocks)]
        )
        self.feature_dim = cfg.feature_dim

    def point_features(self, points: torch.Tensor) -> torch.Tensor:
        """Per-point features [..., S] (before pooling)."""
        return self.blocks(self.embed(self.fourier(points)))

    def forward(self, points: torch.Tensor, mask: torch.Tensor, chunk_points: int = 4096) -> torch.Tensor:
        """Only the valid points are computed (packed), and without autograd the batch is
        processed in chunks of about ``chunk_points`` points so the activations stay in cache;
        each clip's feature is the max over its valid points (zero for a clip with none)."""
        b, n, _ = points.shape
        s = self.feature_dim
        per = b if torch.is_grad_enabled() else max(1, chunk_points // max(n, 1))
        outs = []
        for i in range(0, b, per):
            pts, msk = points[i : i + per], mask[i : i + per]
            clip_idx, point_idx = msk.nonzero(as_tuple=True)
            h = self.point_features(pts[clip_idx, point_idx])
            out = torch.full((pts.shape[0], s), float("-inf"), dtype=h.dtype, device=h.device)
            out = out.scatter_reduce(
                0, clip_idx.unsqueeze(1).expand(-1, s), h, reduce="amax", include_self=True
            )
            outs.append(torch.where(torch.isfinite(out), out, torch.zeros_like(out)))
        return torch.cat(outs) if len(outs) > 1 else outs[0]


class SkeletonTextModel(nn.Module):
    """F plus the classifier head and the projection f into the text space."""

    # where the weights came from (data sets, command, seed) and the file they were read from
    provenance: dict[str, Any]
    source_path: str | None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.provenance = {}
        self.source_path = None
        s = cfg.feature_dim
        self.encoder = PointEncoder(cfg)
        self.classifier = nn.Linear(s, cfg.num_classes) if cfg.num_classes > 0 else None
        self.projection = nn.Sequential(nn.Linear(s, s), nn.ReLU(inplace=True), nn.Linear(s, cfg.text_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # learnable 1 / tau

    def features(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(points, mask)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.projection(features), dim=-1)

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(points, mask)
        out = {"features": feats, "embedding": self.project(feats)}
        if self.classifier is not None:
            out["logits"] = self.classifier(feats)
        return out
