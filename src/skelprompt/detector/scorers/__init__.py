"""OoD scorers, one module each. Importing this package imports every module in this folder,
so a scorer registers itself (``@register_scorer``) by being here."""

from __future__ import annotations

import importlib
import pkgutil

from skelprompt.detector.scorers.base import (
    SCORERS,
    OoDScorer,
    make_scorer,
    register_scorer,
    require_tensor,
    scorer_names,
)

__all__ = ["SCORERS", "OoDScorer", "make_scorer", "register_scorer", "require_tensor", "scorer_names"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
