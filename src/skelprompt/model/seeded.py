"""Seeded weights from a private ``torch.Generator``.

``seeded(build, seed)`` gives the very weights that ``torch.manual_seed(seed)`` followed by
``build()`` gives (tested), without reseeding the process's global generator: a library call
must not change the random stream of the program that calls it. PyTorch's modules draw their
initial weights from the global generator only, so the module is built with that generator's
state saved and restored, then every randomly initialised layer is drawn again, in the same
order and by the same rule as its ``reset_parameters``, from the private generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)

# modules whose own parameters are set without randomness (weights of ones, zeros, constants)
DETERMINISTIC = (nn.LayerNorm,)


def seeded(build: Callable[[], M], seed: int) -> M:
    """``build()`` with its random weights drawn from ``torch.Generator().manual_seed(seed)``."""
    with torch.random.fork_rng(devices=[]):  # building draws from the global generator: undone
        module = build()
    reinit_(module, torch.Generator().manual_seed(seed))
    return module


def reinit_(module: nn.Module, generator: torch.Generator) -> None:
    """Draw the weights of every Linear and recurrent layer again from ``generator``, in the
    order the layers were built (module order)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight.shape[1]
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.RNNBase):
                stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
                for w in m.parameters():
                    nn.init.uniform_(w, -stdv, stdv, generator=generator)
