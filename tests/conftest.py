"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import require_data_root


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data sets (read in place, never copied); skip when they are not present."""
    return require_data_root()
