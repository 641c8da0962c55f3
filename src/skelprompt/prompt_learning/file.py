"""Learned-prompt files: one ``.safetensors`` file with the context vectors and JSON metadata.

Tensor ``context`` float32 ``[2, m, width]`` (one-person and two-person context, ``encoder.KINDS``).
Metadata (strings): ``format`` = ``skelprompt-learned-prompt``, ``version``, ``text_encoder``
(a known encoder's name), ``num_context`` (m), ``kinds`` (JSON list), ``checksum`` (SHA-256 of
the context's bytes and the ``provenance`` JSON) and ``provenance`` (JSON object: how it was
learned: mode, data, model checksum, steps, losses). Loading checks every field and that the
checksum matches; each problem is a ModelError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt.errors import ModelError
from skelprompt.io.fields import describe
from skelprompt.model.checkpoint import load_tensors, save_tensors
from skelprompt.model.metadata import meta_json, meta_version, read_header
from skelprompt.model.text import TEXT_ENCODERS, TextEncoder, get_text_encoder
from skelprompt.prompt_learning.encoder import KINDS, ContextEncoder

FORMAT = "skelprompt-learned-prompt"
VERSION = 1
MAX_CONTEXT = 64  # more context tokens than any sensible prompt (CoOp uses 4 to 16)
MAX_CONTEXT_NORM = 100.0  # a token embedding is ~1-2 long; far beyond is a broken file


@dataclass
class LearnedPrompt:
    """Context vectors for a text encoder, and how they were learned."""

    context: torch.Tensor  # [len(KINDS), m, width] float32
    text_encoder: str
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_context(self) -> int:
        return int(self.context.shape[1])

    def checksum(self) -> str:
        return context_checksum(self.context, self.provenance)

    def encoder(self, base: TextEncoder | None = None) -> ContextEncoder:
        """A text encoder that embeds prompts after this context (on ``base`` or the named one)."""
        base = base or get_text_encoder(self.text_encoder)
        if TEXT_ENCODERS.get(base.name) != TEXT_ENCODERS.get(self.text_encoder):
            raise ModelError(
                f"the learned prompt is for text encoder {self.text_encoder!r}, not {base.name!r}"
            )
        return ContextEncoder(base, self.context)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (a failed write leaves an existing file as it was)."""
        meta = {
            "format": FORMAT,
            "version": str(VERSION),
            "text_encoder": self.text_encoder,
            "num_context": str(self.num_context),
            "kinds": json.dumps(list(KINDS)),
            "checksum": self.checksum(),
            "provenance": json.dumps(self.provenance, sort_keys=True),
        }
        save_tensors(path, {"context": self.context.detach().float().contiguous()}, meta)


def context_checksum(context: torch.Tensor, provenance: dict[str, Any]) -> str:
    h = hashlib.sha256(np.ascontiguousarray(context.detach().float().numpy()).tobytes())
    h.update(json.dumps(provenance, sort_keys=True).encode())
    return h.hexdigest()


def load_learned_prompt(path: str | os.PathLike[str]) -> LearnedPrompt:
    """Read and check a learned-prompt file; every problem is one ModelError line."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such learned-prompt file")
    header = read_header(path)
    meta = header.metadata
    if meta.get("format") != FORMAT:
        raise ModelError(
            f"{path}: not a skelprompt learned-prompt file (format {describe(meta.get('format'))})"
        )
    meta_version(path, meta, VERSION, "learned-prompt")
    name = meta.get("text_encoder")
    if name not in TEXT_ENCODERS:
        raise ModelError(
            f"{path}: unknown text encoder {describe(name)}; known: {', '.join(sorted(TEXT_ENCODERS))}"
        )
    kinds = meta_json(path, meta, "kinds", kind=list)
    if kinds != list(KINDS):
        raise ModelError(f"{path}: kinds must be {list(KINDS)}, got {describe(kinds)}")
    raw_m = meta.get("num_context", "")
    if not raw_m.isascii() or not raw_m.isdigit() or not 1 <= int(raw_m) <= MAX_CONTEXT:
        raise ModelError(
            f"{path}: num_context must be a whole number in 1..{MAX_CONTEXT}, got {describe(raw_m)}"
        )
    info = header.tensors.get("context")
    if set(header.tensors) != {"context"} or info is None:
        raise ModelError(f"{path}: must hold exactly one tensor 'context', has {sorted(header.tensors)[:5]}")
    if info.dtype != "F32" or len(info.shape) != 3 or info.shape[:2] != (len(KINDS), int(raw_m)):
        raise ModelError(
            f"{path}: tensor 'context' must be F32 [{len(KINDS)}, {raw_m}, width], got {info.dtype} {list(info.shape)}"
        )
    provenance = meta_json(path, meta, "provenance", default={})
    context = load_tensors(path)["context"]
    if not torch.isfinite(context).all():
        raise ModelError(f"{path}: tensor 'context' holds NaN or infinite values")
    if float(context.norm(dim=-1).max()) > MAX_CONTEXT_NORM:
        raise ModelError(f"{path}: tensor 'context' has vectors longer than {MAX_CONTEXT_NORM:g}")
    stored = meta.get("checksum")
    if not isinstance(stored, str) or stored != context_checksum(context, provenance):
        raise ModelError(
            f"{path}: checksum does not match the context and provenance (file altered or damaged)"
        )
    return LearnedPrompt(context, str(name), provenance)


def finite_losses(losses: list[float]) -> list[float]:
    """Losses rounded for the provenance JSON (which cannot hold NaN)."""
    return [round(x, 5) for x in losses if math.isfinite(x)]
