"""Import arrows point down. Every top-level package and module of ``skelprompt`` has a layer
(:data:`LAYERS`, top first); a file may import only from its own package or module and from
lower layers, never from its own layer or above. Modules import each other in no circle. The
file formats of ``io/`` and the shared ``tracks.py`` need no heavy runtime. Read from the source
with ``ast``, so an import hidden inside a function (or under TYPE_CHECKING) counts too."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "skelprompt"

# top first; "__init__" is the package face (skelprompt/__init__.py: the version, Clip, errors)
LAYERS: list[tuple[str, ...]] = [
    ("cli",),  # the command line: registers the commands
    ("commands",),  # one module per command: parse options, call the library, print
    ("archive", "service"),  # applications: batch scoring of video archives, the live service
    ("evaluation",),  # benchmarks and studies (HR-VAD windows its poses as footage does)
    ("footage", "prompt_learning"),  # video -> windows -> scores; learned prompts (CoOp)
    ("pretrain", "detector"),  # training the model; the anomaly detector on top of it
    ("video", "datasets", "model"),  # pose estimation and video files; data set readers; the network
    ("io", "pose_descriptor", "place_descriptor"),  # clip file formats; the raw-pose and place descriptors
    ("tracks", "points", "__init__"),  # person tracking; clips -> point sets
    ("clip",),  # the Clip type
    ("layouts",),  # joint layouts
    ("errors", "project3d", "scoring", "prompts"),  # leaves: errors, geometry, equations, prompt texts
]
LAYER_OF = {unit: i for i, units in enumerate(LAYERS) for unit in units}
# circles still in the code, named so that no new one comes in unseen
KNOWN_CIRCLES: list[set[str]] = []  # none left; an entry here must name its issue


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(path: Path, package: str) -> list[tuple[str, list[str]]]:
    """Every import statement anywhere in ``path`` as (module, names imported from it; none for
    ``import M``), relative imports resolved against ``package`` (the package holding ``path``)."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            out.append((module, [alias.name for alias in node.names]))
    return out


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module named by an import statement in ``path``: ``from M import a`` names M and M.a."""
    return {
        m
        for module, names in import_statements(path, package)
        for m in (module, *(f"{module}.{a}" for a in names))
    }


def _offending(path: Path, forbidden: tuple[str, ...], package: str | None = None) -> list[str]:
    found = imported_modules(path, package if package is not None else package_of(path))
    return sorted(m for m in found if any(m == f or m.startswith(f + ".") for f in forbidden))


def unit_of(module: str) -> str | None:
    """The top-level package or module of ``skelprompt`` that ``module`` lies in (None outside)."""
    parts = module.split(".")
    if parts[0] != "skelprompt":
        return None
    # a name that the package face gives (skelprompt.__version__) is the face's
    return parts[1] if len(parts) > 1 and parts[1] in units_on_disk() else "__init__"


@lru_cache(maxsize=1)
def units_on_disk() -> frozenset[str]:
    return frozenset(
        {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    )


def upward_imports(path: Path, unit: str, package: str) -> list[str]:
    """Imports of ``path`` (in ``unit``) from its own layer or above."""
    bad = set()
    for m in imported_modules(path, package):
        other = unit_of(m)
        if other is not None and other != unit and LAYER_OF.get(other, -1) <= LAYER_OF[unit]:
            bad.add(f"{m} ({other}, layer {LAYER_OF.get(other, '?')})")
    return sorted(bad)


def module_graph() -> dict[str, set[str]]:
    """module -> the skelprompt modules it imports: ``from M import a`` is an arrow to the
    module ``M.a`` when there is one, else to ``M``."""
    files = {module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        targets = set[str]()
        for m, names in import_statements(path, package_of(path)):
            # ``from M import a`` is an arrow to the module M.a when there is one, else to M
            targets.update([f"{m}.{a}" if f"{m}.{a}" in files else m for a in names] or [m])
        graph[mod] = {t for t in targets if t in files and t != mod}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


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


def test_every_package_and_module_has_a_layer():
    assert units_on_disk() == set(LAYER_OF)


def test_no_import_points_up_or_sideways():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of(module_of(path))
        assert unit is not None
        bad = upward_imports(path, unit, package_of(path))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    assert found == {}


def test_an_upward_or_sideways_import_is_found(tmp_path):
    src = tmp_path / "probe.py"
    src.write_text(
        "from skelprompt.errors import ModelError\n"  # down: allowed
        "from skelprompt.io import npz\n"  # own package: allowed
        "def f():\n    from skelprompt.detector import Detector\n"  # up
        "    from ..pose_descriptor import descriptors\n"  # sideways: the same layer
    )
    assert upward_imports(src, "io", "skelprompt.io") == [
        "skelprompt.detector (detector, layer 5)",
        "skelprompt.detector.Detector (detector, layer 5)",
        "skelprompt.pose_descriptor (pose_descriptor, layer 7)",
        "skelprompt.pose_descriptor.descriptors (pose_descriptor, layer 7)",
    ]


def test_modules_import_each_other_in_no_circle():
    found = [c for c in circles(module_graph()) if c not in KNOWN_CIRCLES]
    assert found == []


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert circles(graph) == [{"a", "b", "c"}]


@pytest.mark.parametrize("path", sorted((PACKAGE / "io").glob("*.py")), ids=lambda p: p.name)
def test_io_imports_no_video_or_pretrain(path):
    assert _offending(path, ("skelprompt.video", "skelprompt.pretrain")) == []


def test_tracks_needs_no_opencv_or_torch():
    assert _offending(PACKAGE / "tracks.py", ("cv2", "torch", "skelprompt.video", "skelprompt.io")) == []
