"""Prompt ensembles and the generic normal anchors of the softmax prompt evidence.

A user's prompt is one intent; it is embedded as the mean of a few templated phrasings of its
core words (normalised), so that rewording it changes less. The templates are those the
encoder was pretrained with (``pretrain/data.py``: ``"{name}"``, ``"a person {name}"``, ...),
because the projection f learned to meet the text space where those phrasings land. A leading
subject the user wrote ("a person ...", "two people ...") is stripped first so it is not
doubled; a prompt about two people (``"... another person"``) gets the pair templates.

The normal anchors are everyday activities written once here: the softmax puts the user's
anomaly prompts in competition with them, so a clip is evidence for the anomaly only when it
is closer to the anomaly than to ordinary behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# the pretraining templates (pretrain/data.py SINGLE_TEMPLATES / PAIR_TEMPLATES)
SINGLE_TEMPLATES = ("{}", "a person {}", "a person is {}", "someone doing {}")
PAIR_TEMPLATES = ("{}", "two people {}", "a person {} another person", "two people interacting: {}")
# leading subjects stripped from a user's prompt before templating (longest first)
SUBJECTS = (
    "a person is ", "a person ", "someone is ", "someone ", "two people are ", "two people ",
    "people are ", "people ",
)  # fmt: skip
# an object that makes a prompt a two-person one; stripped too, the pair templates add it back
PARTNERS = (" another person", " each other")
PAIR_SUBJECTS = ("two people", "people ")

# everyday activities that compete with the anomaly prompts in the softmax; kept apart from
# the benchmarks' anomalies and from their deliberately wrong prompts (protocols.WRONG_PROMPTS)
NORMAL_ANCHORS = (
    "standing",
    "walking",
    "talking",
    "sitting",
    "waving",
    "sitting down",
    "standing up",
    "walking around",
    "clapping hands",
    "bending down",
    "looking around",
    "two people talking",
    "two people walking together",
)

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows


def core_words(prompt: str) -> tuple[str, bool]:
    """(the prompt without a leading subject or a partner object, whether it is about two
    people), lower case, single spaces: "a person kicking another person" -> ("kicking", True)."""
    text = " ".join(prompt.lower().split())
    pair = text.startswith(PAIR_SUBJECTS)
    for subject in SUBJECTS:
        if text.startswith(subject) and len(text) > len(subject):
            text = text[len(subject) :]
            break
    for partner in PARTNERS:
        if text.endswith(partner) and len(text) > len(partner):
            return text[: -len(partner)], True
    return text, pair


def prompt_phrasings(prompt: str) -> list[str]:
    """The user's prompt and its templated phrasings (no duplicates, the prompt first)."""
    core, pair = core_words(prompt)
    templates = PAIR_TEMPLATES if pair else SINGLE_TEMPLATES
    return list(dict.fromkeys([" ".join(prompt.split()), *(t.format(core) for t in templates)]))


def ensemble_embeddings(embed: Embed, prompts: Sequence[str]) -> np.ndarray:
    """One L2-normalised row per prompt: the mean embedding of its phrasings."""
    rows = []
    for p in prompts:
        m = embed(prompt_phrasings(p)).astype(np.float64).mean(0)
        rows.append(m / max(float(np.linalg.norm(m)), 1e-12))
    return np.stack(rows) if rows else np.zeros((0, 0))
