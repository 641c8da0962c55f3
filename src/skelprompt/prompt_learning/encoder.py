"""Context optimisation (CoOp) on the frozen sentence encoder.

A prompt's words are tokenised as the encoder would tokenise them; ``m`` learnable context
vectors are inserted in the token-embedding space right after ``[CLS]``
(``[CLS] [V1]..[Vm] kicking [SEP]``), the frozen transformer runs on these input embeddings,
and the output is mean-pooled over all tokens and L2-normalised, exactly as sentence-transformers
pools all-MiniLM-L6-v2: with no context the embedding is the frozen encoder's own (tested).

Two context sets are kept, one for one-person prompts and one for two-person prompts, because
pretraining phrased the two kinds with different templates (``prompts.SINGLE_TEMPLATES`` /
``PAIR_TEMPLATES``). A prompt is reduced to its core words first (``prompts.core_words``): the
context replaces the subject and template words, as CoOp's context replaces "a photo of a".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from skelprompt.errors import ModelError
from skelprompt.model.text import TextEncoder
from skelprompt.prompts import core_words

KINDS = ("single", "pair")  # the context sets: one-person and two-person prompts


def sentence_transformer_parts(encoder: TextEncoder) -> tuple[Any, Any]:
    """``(transformer, tokenizer)`` of a sentence-transformers text encoder, or a ModelError."""
    model = getattr(encoder, "_model", None)
    try:
        first = model[0]  # type: ignore[index]
        transformer, tokenizer = first.auto_model, first.tokenizer
    except (TypeError, IndexError, AttributeError):
        raise ModelError(
            f"text encoder {getattr(encoder, 'name', '?')!r} is not a sentence-transformers model: "
            "learned prompts need its token embeddings"
        ) from None
    return transformer, tokenizer


class ContextEncoder(nn.Module):
    """The frozen transformer with learnable context vectors ``context [len(KINDS), m, dim]``.

    Only ``context`` is a parameter; the transformer's weights have ``requires_grad=False``.
    ``embed(texts)`` is differentiable in the context; ``encode(texts)`` is the NumPy form (the
    :class:`~skelprompt.model.text.TextEncoder` protocol), so a detector can use it as its
    text encoder.
    """

    def __init__(self, base: TextEncoder, context: torch.Tensor) -> None:
        super().__init__()
        transformer, tokenizer = sentence_transformer_parts(base)
        self.base_name = base.name
        self.name = f"{base.name}+learned-context"
        self._transformer = [transformer]  # a list: not a submodule, so not in state_dict / parameters
        self._tokenizer = tokenizer
        for p in transformer.parameters():
            p.requires_grad_(False)
        width = int(transformer.get_input_embeddings().weight.shape[1])
        if context.ndim != 3 or context.shape[0] != len(KINDS) or context.shape[2] != width:
            raise ModelError(
                f"learned context must have shape [{len(KINDS)}, m, {width}], got {list(context.shape)}"
            )
        self.context = nn.Parameter(context.detach().clone().float())
        self._cache: dict[tuple[str, bool], np.ndarray] = {}

    @property
    def transformer(self) -> Any:
        return self._transformer[0]

    @property
    def dim(self) -> int:
        return int(self.transformer.config.hidden_size)

    @property
    def num_context(self) -> int:
        return int(self.context.shape[1])

    def token_embeddings(self, text: str) -> torch.Tensor:
        """The frozen word embeddings of ``text`` without [CLS] and [SEP]: [T, width]."""
        ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return self.transformer.get_input_embeddings()(torch.tensor(ids, dtype=torch.long))

    def _special(self) -> tuple[torch.Tensor, torch.Tensor]:
        tok = self._tokenizer
        ids = torch.tensor([tok.cls_token_id, tok.sep_token_id], dtype=torch.long)
        cls, sep = self.transformer.get_input_embeddings()(ids)
        return cls[None], sep[None]

    def embed_core(self, words: list[str], kinds: list[int], use_context: bool = True) -> torch.Tensor:
        """L2-normalised embeddings [len(words), dim] of ``[CLS] context(kind) words [SEP]``."""
        if not words:
            return torch.zeros((0, self.dim))
        cls, sep = self._special()
        seqs = []
        for w, k in zip(words, kinds, strict=True):
            parts = [cls, self.context[k]] if use_context else [cls]
            seqs.append(torch.cat([*parts, self.token_embeddings(w), sep]))
        length = max(len(s) for s in seqs)
        width = seqs[0].shape[1]
        x = torch.zeros((len(seqs), length, width))
        mask = torch.zeros((len(seqs), length), dtype=torch.long)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = s
            mask[i, : len(s)] = 1
        out = self.transformer(inputs_embeds=x, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)  # sentence-transformers' mean pooling
        return nn.functional.normalize(pooled, dim=-1)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Differentiable embeddings of prompts: their core words after their kind's context."""
        cores = [core_words(t) for t in texts]
        return self.embed_core([c for c, _ in cores], [int(pair) for _, pair in cores])

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings [len(texts), dim] (no gradient; cached per text)."""
        keys = [(t, True) for t in texts]
        todo = [t for t, _ in dict.fromkeys(keys) if (t, True) not in self._cache]
        if todo:
            with torch.no_grad():
                emb = self.embed(todo).numpy().astype(np.float32)
            for t, e in zip(todo, emb, strict=True):
                self._cache[(t, True)] = e
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[k] for k in keys])

    def forget(self) -> None:
        """Drop cached embeddings (call after the context changed)."""
        self._cache.clear()


def initial_context(base: TextEncoder, init: str = "", num_context: int = 4, seed: int = 0) -> torch.Tensor:
    """Starting context [len(KINDS), m, width]: the token embeddings of ``init`` (e.g. "a person
    is": m = its token count) for both kinds, or ``num_context`` small Gaussian vectors (std
    0.02, CoOp's) drawn from a private generator when ``init`` is empty."""
    transformer, tokenizer = sentence_transformer_parts(base)
    table = transformer.get_input_embeddings()
    if init.strip():
        ids = tokenizer(init, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            vecs = table(torch.tensor(ids, dtype=torch.long))
        return vecs[None].repeat(len(KINDS), 1, 1).clone()
    if num_context < 1:
        raise ValueError(f"num_context must be at least 1, got {num_context}")
    gen = torch.Generator().manual_seed(seed)
    width = int(table.weight.shape[1])
    return torch.randn((len(KINDS), num_context, width), generator=gen) * 0.02
