"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from skelprompt.commands.fit import DEFAULT_FALSE_ALARMS_PER_HOUR
from tests.helpers import require_data_root

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "skelprompt" / "examples"
# the serve tests watch the man on the utility box through a detector fitted on 8 s of street,
# prompted as the README's quick start ("a person jumping"), at the detector's own rate (the
# default, 1 alarm an hour): he alerts as the quick start's man does
ALARMS_PER_HOUR = DEFAULT_FALSE_ALARMS_PER_HOUR
PROMPT = "a person jumping"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data sets (read in place, never copied); skip when they are not present."""
    return require_data_root()


@pytest.fixture(scope="session")
def street_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A detector fitted on the bundled street clip (the README's first command), once a session."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("detector") / "street.safetensors"
    subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", "fit", str(EXAMPLES / "vtest_8s.mp4"), "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out
