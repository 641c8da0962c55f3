"""Learned prompts: context vectors (CoOp) for the frozen text encoder, their files, and
learning them on the pretraining pool or on a user's few anomaly examples."""

from skelprompt.prompt_learning.apply import with_learned_prompt
from skelprompt.prompt_learning.encoder import ContextEncoder, initial_context
from skelprompt.prompt_learning.file import LearnedPrompt, load_learned_prompt
from skelprompt.prompt_learning.learn import LearnResult, LearnSettings, learn_on_examples, learn_on_pool

__all__ = [
    "ContextEncoder",
    "LearnResult",
    "LearnSettings",
    "LearnedPrompt",
    "initial_context",
    "learn_on_examples",
    "learn_on_pool",
    "load_learned_prompt",
    "with_learned_prompt",
]
