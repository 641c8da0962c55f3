"""Import arrows point down: the file formats of ``io/`` and the shared ``tracks.py`` must not
import the video side, pretraining or the heavy runtimes. Read from the source with ``ast``,
so an import hidden inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "skelprompt"


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module named by an import statement anywhere in ``path``, relative imports
    resolved against ``package`` (the dotted package that holds ``path``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def _offending(path: Path, forbidden: tuple[str, ...], package: str | None = None) -> list[str]:
    found = imported_modules(path, package if package is not None else package_of(path))
    return sorted(m for m in found if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_imported_modules_sees_function_level_and_relative_imports(tmp_path):
    src = tmp_path / "probe.py"
    src.write_text(
        "import numpy\ndef f():\n    from skelprompt.video.pose import get_backend\nfrom ..pretrain import loop\n"
    )
    assert _offending(src, ("skelprompt.video", "skelprompt.pretrain"), package="skelprompt.io") == [
        "skelprompt.pretrain",
        "skelprompt.pretrain.loop",
        "skelprompt.video.pose",
        "skelprompt.video.pose.get_backend",
    ]


@pytest.mark.parametrize("path", sorted((PACKAGE / "io").glob("*.py")), ids=lambda p: p.name)
def test_io_imports_no_video_or_pretrain(path):
    assert _offending(path, ("skelprompt.video", "skelprompt.pretrain")) == []


def test_tracks_needs_no_opencv_or_torch():
    assert _offending(PACKAGE / "tracks.py", ("cv2", "torch", "skelprompt.video", "skelprompt.io")) == []
