"""Shared helpers for tests: the real data sets (read in place, never copied), loaded once."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest

from skelprompt.clip import Clip

NORMAL_SBU = {"approaching", "departing", "hugging", "shaking hands", "exchanging"}


def find_data_root() -> Path | None:
    """$SKELPROMPT_DATA_ROOT, else ``shared/data`` beside the repository; None when absent."""
    env = os.environ.get("SKELPROMPT_DATA_ROOT")
    for cand in (env, Path(__file__).resolve().parents[1].parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    return None


DATA_ROOT = find_data_root()
EXAMPLE_VIDEO = Path(__file__).resolve().parents[1] / "src" / "skelprompt" / "examples" / "vtest_8s.mp4"
MISSING_DATA = (
    "the real data sets are not here: set SKELPROMPT_DATA_ROOT or put them in ../shared/data "
    "beside the repository"
)


def require_data_root() -> Path:
    """The data folder, or skip the calling test with the reason."""
    if DATA_ROOT is None:
        pytest.skip(MISSING_DATA)
    return DATA_ROOT


@lru_cache(maxsize=1)
def _sbu() -> tuple[Clip, ...]:
    from skelprompt.datasets import sbu

    return tuple(sbu.load(require_data_root()))


def sbu_clips() -> list[Clip]:
    """All 282 SBU clips (two persons, OpenNI-15 layout)."""
    return list(_sbu())


def validate_result_json(data: dict) -> None:
    """Raise jsonschema.ValidationError unless ``data`` follows the package's result schema."""
    import json

    import jsonschema

    from skelprompt.footage.results import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
