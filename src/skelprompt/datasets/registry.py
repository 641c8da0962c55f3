"""The registered data sets: where each lives under the data root, and how to load it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError

ENV_DATA_ROOT = "SKELPROMPT_DATA_ROOT"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    folder: str
    description: str
    persons: int
    fps: float | None
    module: str  # skelprompt.datasets.<module>.load(data_root)

    @property
    def loader(self) -> Callable[[Path], list[Clip]]:
        return import_module(f"skelprompt.datasets.{self.module}").load


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("sbu", "sbu_kinect_interaction", "SBU Kinect Interaction: 8 two-person interactions, 282 sequences",
                    2, 15.0, "sbu"),
        DatasetInfo("k3hi", "k3hi_interformer", "K3HI Kinect interactions (actor/reactor): 8 classes, 312 sequences",
                    2, 15.0, "k3hi"),
        DatasetInfo("msr", "msr_action3d", "MSR Action3D: 20 gestures and sports, 566 non-empty sequences, 3D",
                    1, 15.0, "msr"),
        DatasetInfo("nw_ucla", "nw_ucla_ctrgcn", "Northwestern-UCLA: 10 daily actions, 3 views, 1,484 sequences, 3D",
                    1, 30.0, "nw_ucla"),
        DatasetInfo("utkinect", "utkinect_action3d", "UTKinect-Action3D: 10 actions, 199 segments, 3D",
                    1, 30.0, "utkinect"),
        DatasetInfo("jhmdb", "jhmdb_ddnet", "JHMDB ground-truth 2D joints: 14 classes, 609 clips, 3 splits",
                    1, 30.0, "jhmdb"),
        DatasetInfo("urfd", "urfd_fall_alphapose", "UR Fall Detection: 30 fall videos, per-frame fall labels, 2D",
                    1, 30.0, "urfd"),
        DatasetInfo("deepmimic", "deepmimic_mocap", "DeepMimic mocap: 26 motions cut into 64-frame windows, 3D",
                    1, 30.0, "deepmimic"),
        DatasetInfo("precog", "precog_aggressive", "PRECOG 2016: punches and kicks cut from per-frame labels, 3D",
                    1, 30.0, "precog"),
    ]
}  # fmt: skip


def _candidates() -> list[Path]:
    return [
        Path.cwd() / ".." / "shared" / "data",
        Path(__file__).resolve().parents[3] / ".." / "shared" / "data",
    ]


def default_data_root() -> Path:
    """``$SKELPROMPT_DATA_ROOT``, else the first existing ``../shared/data`` (from the current
    folder, then from the repository root); else the first candidate (which does not exist)."""
    env = os.environ.get(ENV_DATA_ROOT)
    if env:
        return Path(env)
    cands = _candidates()
    for c in cands:
        if c.is_dir():
            return c.resolve()
    return cands[0]


def get_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise SkelpromptError(f"unknown data set {name!r}; known data sets: {', '.join(DATASETS)}") from None


def dataset_path(name: str, data_root: str | os.PathLike[str] | None = None) -> Path:
    root = Path(data_root) if data_root is not None else default_data_root()
    return root / get_info(name).folder


def is_available(name: str, data_root: str | os.PathLike[str] | None = None) -> bool:
    return dataset_path(name, data_root).is_dir()


def load_dataset(name: str, data_root: str | os.PathLike[str] | None = None) -> list[Clip]:
    """All clips of data set ``name`` (cached per process; the list is shared, do not mutate it)."""
    info = get_info(name)
    root = Path(data_root) if data_root is not None else default_data_root()
    folder = root / info.folder
    if not folder.is_dir():
        where = (
            f"{root}"
            if data_root is not None or os.environ.get(ENV_DATA_ROOT)
            else (" and ".join(str(c) for c in _candidates()))
        )
        raise SkelpromptError(
            f"data set {name!r} not found: no folder {info.folder!r} under {where}. skelprompt does not "
            f"ship data sets; download {name} yourself and pass --data-root (or set {ENV_DATA_ROOT}) "
            "to the folder that holds it"
        )
    return list(_load_cached(name, str(root.resolve())))


@cache
def _load_cached(name: str, root: str) -> tuple[Clip, ...]:
    return tuple(DATASETS[name].loader(Path(root)))
