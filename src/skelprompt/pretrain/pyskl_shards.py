"""Large PySKL skeleton files (NTU-120, Kinetics-400 2D skeletons) as streamable shards.

A pickle cannot be read piece by piece in general (and opening one can run code hidden in
it), so a large PySKL file is converted once, by someone who trusts it, into skelprompt
shards: ``.npz`` files of ``shard_size`` clips each (safe to open: no pickles) and an
``index.json`` with the label names, the split names and the clip count of each shard.
:class:`ShardedClipDataset` then streams the shards with memory bounded by one shard (times
the shuffle buffer), splitting shards across DDP ranks and DataLoader workers.

The conversion holds the unpickled annotation list in memory once (the pickle format
requires it) and releases each annotation as soon as it has been written to a shard.

Shard arrays (clip i owns rows ``offsets[i]:offsets[i+1]`` of the person-frame arrays):
``keypoint [R, V, 2] float32``, ``keypoint_score [R, V] float16``, ``offsets [n+1]``,
``persons [n]``, ``frames [n]``, ``label [n]`` (-1 = none), ``img_shape [n, 2]`` (0 = none),
``frame_dir [n]`` (unicode), ``splits [n]`` (bit k set = member of split k of the index).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from skelprompt.clip import Clip
from skelprompt.errors import FileFormatError
from skelprompt.io.atomic import write_text_atomic, write_with
from skelprompt.io.pyskl import PICKLE_WARNING
from skelprompt.io.safe_pickle import safe_load
from skelprompt.layouts import get_layout
from skelprompt.pretrain.distributed import rank_and_world

INDEX_FORMAT = "skelprompt-shards"
INDEX_VERSION = 1


def pyskl_label_names(data_root: str | Path, dataset: str) -> list[str]:
    """Class names for PySKL label indices: ``ntu120`` / ``ntu60`` (label i = action i + 1) or
    ``kinetics400`` (label i = the i-th ST-GCN Kinetics class), from ``label_lists/``."""
    from skelprompt.datasets import label_lists

    if dataset in ("ntu120", "ntu60"):
        names = label_lists.ntu120_names(Path(data_root))
        n = 120 if dataset == "ntu120" else 60
        return [names[i] for i in range(1, n + 1)]
    if dataset in ("kinetics400", "k400"):
        return label_lists.kinetics400_names(Path(data_root))
    raise ValueError(f"unknown PySKL data set {dataset!r}: use ntu120, ntu60 or kinetics400")


def _annotation_arrays(ann: Any, where: str, num_labels: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(keypoint [M, T, V, 2], score [M, T, V], label)`` of one annotation, every field checked."""
    if not isinstance(ann, dict):
        raise FileFormatError(f"{where}: an annotation must be a dict, got {type(ann).__name__}")
    kp = ann.get("keypoint")
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in "fiu":
        raise FileFormatError(f"{where}: 'keypoint' must be a numeric array, got {type(kp).__name__}")
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3) or min(kp.shape) < 1:
        raise FileFormatError(f"{where}: 'keypoint' must be [M, T, V, 2 or 3] and non-empty, got {kp.shape}")
    sc = ann.get("keypoint_score")
    if sc is None:
        sc = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:3], np.float32)
    if not isinstance(sc, np.ndarray) or sc.dtype.kind not in "fiu" or sc.shape != kp.shape[:3]:
        got = sc.shape if isinstance(sc, np.ndarray) else type(sc).__name__
        raise FileFormatError(f"{where}: 'keypoint_score' must be a numeric array {kp.shape[:3]}, got {got}")
    lab = ann.get("label")
    if lab is not None and (isinstance(lab, bool) or not isinstance(lab, int | np.integer)):
        raise FileFormatError(f"{where}: 'label' must be an integer, got {type(lab).__name__}")
    if lab is not None and (lab < 0 or (num_labels is not None and lab >= num_labels)):
        raise FileFormatError(
            f"{where}: label {int(lab)} outside 0..{(num_labels or 0) - 1} (the label names)"
        )
    shp = ann.get("img_shape")
    if shp is not None and (
        not isinstance(shp, tuple | list | np.ndarray) or len(shp) != 2
        or not all(isinstance(x, int | np.integer) and x >= 0 for x in shp)
    ):  # fmt: skip
        raise FileFormatError(f"{where}: 'img_shape' must be (height, width) integers, got {shp!r}")
    if not isinstance(ann.get("frame_dir", ""), str):
        raise FileFormatError(f"{where}: 'frame_dir' must be a string")
    kp = np.asarray(kp[..., :2], np.float32)
    return kp, np.asarray(sc, np.float32), -1 if lab is None else int(lab)


def _write_shard(
    path: Path, anns: list[Any], split_bits: dict[str, int], where: str = "", first: int = 0,
    num_labels: int | None = None, num_joints: int | None = None,
) -> None:  # fmt: skip
    kps, scs, offsets, persons, frames, labels, shapes, dirs, bits = [], [], [0], [], [], [], [], [], []
    for i, ann in enumerate(anns):
        here = f"{where or path}: annotation {first + i}"
        kp, sc, lab = _annotation_arrays(ann, here, num_labels)
        m, t, v = kp.shape[:3]
        if num_joints is not None and v != num_joints:
            raise FileFormatError(f"{here}: {v} joints, but the layout has {num_joints}")
        kps.append(np.nan_to_num(kp).reshape(m * t, v, 2))
        scs.append(np.clip(np.nan_to_num(sc), 0, 1).reshape(m * t, v).astype(np.float16))
        offsets.append(offsets[-1] + m * t)
        persons.append(m)
        frames.append(t)
        labels.append(lab)
        shp = ann.get("img_shape")
        shapes.append([0, 0] if shp is None else [int(shp[0]), int(shp[1])])
        fd = str(ann.get("frame_dir", ""))
        dirs.append(fd)
        bits.append(split_bits.get(fd, 0))
    v = {k.shape[1] for k in kps}
    if len(v) > 1:
        raise FileFormatError(f"{path}: annotations mix joint counts {sorted(v)}")
    arrays: dict[str, np.ndarray] = {
        "keypoint": np.concatenate(kps),
        "keypoint_score": np.concatenate(scs),
        "offsets": np.array(offsets, np.int64),
        "persons": np.array(persons, np.int32),
        "frames": np.array(frames, np.int32),
        "label": np.array(labels, np.int32),
        "img_shape": np.array(shapes, np.int32).reshape(-1, 2),
        "frame_dir": np.array(dirs, dtype=str),
        "splits": np.array(bits, np.int64),
    }
    # numpy's stubs read **arrays as if it could hold savez's allow_pickle flag
    write_with(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")  # type: ignore[arg-type]


def convert_pyskl_to_shards(
    pkl: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    shard_size: int = 2048,
    layout: str = "coco17",
    label_names: list[str] | None = None,
    fps: float | None = None,
    trust_pickle: bool = False,
) -> Path:
    """Convert a PySKL pickle into ``out_dir/shard-00000.npz ...`` and ``out_dir/index.json``.

    Needs ``trust_pickle=True`` (opening a pickle can run code). Returns the index path.
    """
    pkl = Path(pkl)
    if not trust_pickle:
        raise FileFormatError(f"{pkl}: {PICKLE_WARNING}")
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    data = safe_load(pkl)  # plain data and arrays only, even from a trusted file
    if isinstance(data, list):
        data = {"annotations": data}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise FileFormatError(f"{pkl}: not a PySKL annotation file (no 'annotations' list)")
    splits = data.get("split") or {}
    if not isinstance(splits, dict) or not all(
        isinstance(v, list | tuple) and all(isinstance(n, str) for n in v) for v in splits.values()
    ):
        raise FileFormatError(f"{pkl}: 'split' must map split names to lists of frame_dir strings")
    split_names = sorted(splits)[:63]
    split_bits: dict[str, int] = {}
    for k, name in enumerate(split_names):
        for fd in splits[name]:
            split_bits[str(fd)] = split_bits.get(str(fd), 0) | (1 << k)
    anns: list = data["annotations"]
    del data
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    n_total = len(anns)
    anns.reverse()  # pop from the end = original order, releasing each annotation once written
    k = 0
    while anns:
        chunk = [anns.pop() for _ in range(min(shard_size, len(anns)))]
        name = f"shard-{k:05d}.npz"
        _write_shard(out / name, chunk, split_bits, str(pkl), n_total - len(anns) - len(chunk),
                     len(label_names) if label_names else None, get_layout(layout).num_joints)  # fmt: skip
        shards.append({"file": name, "num_clips": len(chunk)})
        k += 1
        del chunk
    index = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "source": pkl.name,
        "layout": layout,
        "fps": fps,
        "label_names": list(label_names) if label_names else None,
        "splits": split_names,
        "num_clips": n_total,
        "source_bytes": pkl.stat().st_size,  # a later run reuses the shards of the same file
        "source_mtime_ns": pkl.stat().st_mtime_ns,
        "shards": shards,
    }
    path = out / "index.json"
    write_text_atomic(path, json.dumps(index, indent=1) + "\n")
    return path


def read_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / "index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except ValueError as e:
        raise FileFormatError(f"{path}: not JSON ({e})") from None
    if index.get("format") != INDEX_FORMAT:
        raise FileFormatError(f"{path}: not a skelprompt shard index")
    index["_dir"] = str(path.parent)
    return index


def read_shard(index: dict[str, Any], shard: int, split: str | None = None) -> Iterator[Clip]:
    """Yield the clips of one shard (only members of ``split`` when given)."""
    entry = index["shards"][shard]
    path = Path(index["_dir"]) / entry["file"]
    bit = None
    if split is not None:
        if split not in index["splits"]:
            raise FileFormatError(f"{path}: no split {split!r}; splits: {index['splits']}")
        bit = 1 << index["splits"].index(split)
    names = index.get("label_names")
    try:
        with np.load(path, allow_pickle=False) as z:
            arr = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise FileFormatError(f"{path}: missing shard") from None
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{path}: not a readable shard ({e})") from None
    check_shard(arr, path, entry["num_clips"])
    off = arr["offsets"]
    for i in range(len(arr["persons"])):
        if bit is not None and not (int(arr["splits"][i]) & bit):
            continue
        m, t = int(arr["persons"][i]), int(arr["frames"][i])
        kp = arr["keypoint"][off[i] : off[i + 1]].reshape(m, t, -1, 2)
        sc = arr["keypoint_score"][off[i] : off[i + 1]].astype(np.float32).reshape(m, t, -1)
        lab = int(arr["label"][i])
        label = None if lab < 0 else (names[lab] if names and lab < len(names) else str(lab))
        h, w = (int(x) for x in arr["img_shape"][i])
        yield Clip(
            keypoint=kp,
            keypoint_score=sc,
            layout=index["layout"],
            fps=index.get("fps"),
            img_shape=(h, w) if h > 0 and w > 0 else None,
            label=label,
            source=str(path),
            frame_dir=str(arr["frame_dir"][i]),
            meta={"label_index": lab},
        )


_SHARD_FIELDS = {"keypoint": "f", "keypoint_score": "f", "offsets": "i", "persons": "i", "frames": "i",
                 "label": "i", "img_shape": "i", "frame_dir": "U", "splits": "i"}  # fmt: skip


def check_shard(arr: dict[str, np.ndarray], path: Path, num_clips: int) -> None:
    """Every field of a shard: present, of its kind, of matching sizes (one clear error)."""
    for k, kind in _SHARD_FIELDS.items():
        if k not in arr or arr[k].dtype.kind != kind:
            raise FileFormatError(f"{path}: shard field {k!r} missing or not of dtype kind {kind!r}")
    n, kp, off = len(arr["persons"]), arr["keypoint"], arr["offsets"]
    if n != num_clips or any(
        len(arr[k]) != n for k in ("frames", "label", "img_shape", "frame_dir", "splits")
    ):
        raise FileFormatError(f"{path}: shard fields disagree on the clip count (index says {num_clips})")
    if (
        kp.ndim != 3
        or kp.shape[2] != 2
        or arr["keypoint_score"].shape != kp.shape[:2]
        or off.shape != (n + 1,)
    ):
        raise FileFormatError(f"{path}: shard keypoint {kp.shape} / score / offsets shapes do not match")
    rows = arr["persons"].astype(np.int64) * arr["frames"]
    if off[0] != 0 or (rows < 1).any() or not np.array_equal(np.diff(off), rows) or off[-1] != len(kp):
        raise FileFormatError(f"{path}: shard offsets do not match persons x frames")


class ShardedClipDataset(IterableDataset):
    """Stream clips from converted shards with bounded memory.

    Shards are dealt to the (DDP rank, DataLoader worker) slots in turn, after an epoch-
    dependent shuffle of the shard order (``set_epoch``). With ``equalize`` every slot yields
    the same number of clips (the smallest slot's count), so all DDP ranks take the same
    number of steps. ``shuffle_buffer`` clips are mixed across shard boundaries.
    """

    def __init__(
        self,
        index: str | os.PathLike[str] | dict[str, Any],
        split: str | None = None,
        shuffle: bool = True,
        seed: int = 0,
        shuffle_buffer: int = 1024,
        equalize: bool = True,
        transform=None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.index = index if isinstance(index, dict) else read_index(index)
        self.split, self.shuffle, self.seed = split, shuffle, seed
        self.shuffle_buffer, self.equalize, self.transform = shuffle_buffer, equalize, transform
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def label_names(self) -> list[str] | None:
        return self.index.get("label_names")

    def _slots(self) -> tuple[int, int, int, int]:
        r, w = rank_and_world()
        rank = self.rank if self.rank is not None else r
        world = self.world_size if self.world_size is not None else w
        wi = get_worker_info()
        wid, nw = (wi.id, wi.num_workers) if wi is not None else (0, 1)
        return rank, world, wid, nw

    def shard_assignment(self, rank: int, world: int, wid: int, nw: int) -> tuple[list[int], int | None]:
        """This slot's shards and (with ``equalize``) its clip limit."""
        n = len(self.index["shards"])
        order = np.arange(n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        slots = world * nw
        slot = rank * nw + wid
        mine = [int(s) for s in order[slot::slots]]
        limit = None
        if self.equalize:
            counts = [
                sum(self.index["shards"][int(s)]["num_clips"] for s in order[k::slots]) for k in range(slots)
            ]
            limit = min(counts)
        return mine, limit

    def __iter__(self) -> Iterator[Clip]:
        rank, world, wid, nw = self._slots()
        mine, limit = self.shard_assignment(rank, world, wid, nw)
        rng = np.random.default_rng([self.seed, self.epoch, rank, wid])
        buf: list[Clip] = []
        count = 0

        def emit(c: Clip) -> Clip:
            return self.transform(c) if self.transform is not None else c

        for s in mine:
            for clip in read_shard(self.index, s, self.split):
                if limit is not None and count >= limit:
                    break
                count += 1
                if not self.shuffle:
                    yield emit(clip)
                    continue
                if len(buf) < self.shuffle_buffer:
                    buf.append(clip)
                    continue
                j = int(rng.integers(len(buf)))
                buf[j], clip = clip, buf[j]
                yield emit(clip)
        rng.shuffle(buf) if buf else None
        for c in buf:
            yield emit(c)


def collate_clips(batch: list[Clip]) -> list[Clip]:
    """A DataLoader ``collate_fn`` that keeps clips as a list."""
    return list(batch)


__all__ = [
    "ShardedClipDataset",
    "collate_clips",
    "convert_pyskl_to_shards",
    "pyskl_label_names",
    "read_index",
    "read_shard",
]
