"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA_ROOT as SHARED_DATA


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data sets (read in place, never copied); skip when they are not present."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA.resolve()
