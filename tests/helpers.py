"""Shared helpers for tests: real data from ../shared/data, loaded once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from skelprompt.clip import Clip

DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NORMAL_SBU = {"approaching", "departing", "hugging", "shaking hands", "exchanging"}


@lru_cache(maxsize=1)
def _sbu() -> tuple[Clip, ...]:
    from skelprompt.datasets import sbu

    return tuple(sbu.load(DATA_ROOT))


def sbu_clips() -> list[Clip]:
    """All 282 SBU clips (two persons, OpenNI-15 layout)."""
    return list(_sbu())
