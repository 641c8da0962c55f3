"""Shared helpers for tests: real data from ../shared/data, loaded once."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from skelprompt.clip import Clip


def _data_root() -> Path:
    """$SKELPROMPT_DATA_ROOT, else ../shared/data beside the repository, else /work/shared/data."""
    for cand in (
        os.environ.get("SKELPROMPT_DATA_ROOT"),
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
        "/work/shared/data",
    ):
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    raise RuntimeError(
        "the real data sets are needed: set SKELPROMPT_DATA_ROOT or put them in ../shared/data"
    )


DATA_ROOT = _data_root()
EXAMPLE_VIDEO = Path(__file__).resolve().parents[1] / "src" / "skelprompt" / "examples" / "vtest_8s.mp4"
NORMAL_SBU = {"approaching", "departing", "hugging", "shaking hands", "exchanging"}


@lru_cache(maxsize=1)
def _sbu() -> tuple[Clip, ...]:
    from skelprompt.datasets import sbu

    return tuple(sbu.load(DATA_ROOT))


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
