"""Bad input to every reader and metadata parser: one clear SkelpromptError naming the file and
the problem, never a traceback, never silent garbage, never a huge allocation. A table of named
bad files per family, property-based fuzzing of the same readers, and the write side (atomic
writes that fail cleanly and leave no temporary file)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.torch import save_file

from skelprompt.clip import Clip
from skelprompt.datasets import jhmdb
from skelprompt.errors import SkelpromptError, UnsafePickleError, WriteError
from skelprompt.io import load_clips, save_clips
from skelprompt.io.alphapose import read_alphapose
from skelprompt.io.coco import read_coco_keypoints
from skelprompt.io.npz_members import inspect_npz
from skelprompt.io.openpose import read_openpose
from skelprompt.io.pyskl import iter_pyskl
from skelprompt.io.safe_pickle import safe_loads
from skelprompt.model import ModelConfig, get_text_encoder, load_model, save_model, untrained_model
from skelprompt.model.config import MAX_PARAMETERS, parameter_count

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
MAX_PEAK_BYTES = 64 * 1024**2  # every file here is tiny: a reader must never allocate more


# ---------------------------------------------------------------------- file builders
def clip_arrays(t: int = 4) -> dict[str, np.ndarray]:
    kp = np.random.default_rng(0).random((1, t, 17, 2)).astype(np.float32) * 100
    return {"0/keypoint": kp, "0/keypoint_score": np.ones((1, t, 17), np.float32)}


def npz_file(path: Path, clip: dict | None = None, header: dict | None = None, arrays: dict | None = None,
             meta_bytes: bytes | None = None) -> Path:  # fmt: skip
    """A skelprompt clip file with one clip; ``clip``/``header``/``arrays`` override fields."""
    c = {"layout": "coco17", "fps": 30.0, "img_shape": [480, 640], "label": "x", "frame_dir": "a",
         "start_frame": 0, "meta": {}} | (clip or {})  # fmt: skip
    h = {"format": "skelprompt-clips", "version": 1, "clips": [c]} | (header or {})
    raw = meta_bytes if meta_bytes is not None else json.dumps(h).encode()
    arrs = {k: v for k, v in (clip_arrays() | (arrays or {})).items() if v is not None}
    np.savez(path, __meta__=np.frombuffer(raw, np.uint8), **arrs)
    return path


def npy_member_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """A clip file whose ``0/keypoint.npy`` header claims ``shape`` but holds 16 bytes of data."""
    npz_file(path, arrays={"0/keypoint": None})
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("0/keypoint.npy", buf.getvalue() + b"\0" * 16)
    return path


def model_file(path: Path, meta: dict | None = None, config: dict | None = None,
               tensors: dict | None = None) -> Path:  # fmt: skip
    model = untrained_model("small", seed=0)
    state = {k: v.clone() for k, v in model.state_dict().items()} | (tensors or {})
    m = {"format": "skelprompt-model", "version": "1", "config": json.dumps(model.cfg.to_dict() | (config or {})),
         "provenance": "{}"} | (meta or {})  # fmt: skip
    save_file(
        {k: v for k, v in state.items() if v is not None},
        str(path),
        metadata={k: v for k, v in m.items() if v is not None},
    )
    return path


def raw_safetensors(path: Path, header: Any, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


def pyskl_file(path: Path, ann: dict | None = None, top: Any = None) -> Path:
    a = {"frame_dir": "a", "label": 0, "img_shape": (480, 640), "total_frames": 4,
         "keypoint": clip_arrays()["0/keypoint"], "keypoint_score": clip_arrays()["0/keypoint_score"]} | (ann or {})  # fmt: skip
    with open(path, "wb") as fh:
        pickle.dump(
            top if top is not None else {"annotations": [{k: v for k, v in a.items() if v is not None}]}, fh
        )
    return path


class Evil:
    """Unpickling this would create the file named by ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def read_npz(**kw: Any) -> Callable[[Path], Any]:
    return lambda d: load_clips(npz_file(d / "c.npz", **kw))


def read_model(**kw: Any) -> Callable[[Path], Any]:
    return lambda d: load_model(model_file(d / "m.safetensors", **kw))


def read_pyskl(**kw: Any) -> Callable[[Path], Any]:
    return lambda d: list(iter_pyskl(pyskl_file(d / "a.pkl", **kw), trust_pickle=True))


def read_json(reader: Callable[[Path], Any], content: Any) -> Callable[[Path], Any]:
    def run(d: Path) -> Any:
        (d / "j").mkdir()
        f = d / "j" / "f_000000000000_keypoints.json"
        f.write_bytes(
            content
            if isinstance(content, bytes)
            else content.encode()
            if isinstance(content, str)
            else json.dumps(content).encode()
        )
        return reader(d / "j" if reader is read_openpose else f)

    return run


BIG = [64, 128, 10**9]
COCO17 = [1.0, 2.0, 1.0] * 17
CASES: list[tuple[str, str, Callable[[Path], Any], str]] = [
    # model metadata (checkpoint, config, text encoders)
    ("model", "header is a list", lambda d: load_model(raw_safetensors(d / "m.st", [1, 2])), "header is list"),
    ("model", "metadata not str->str", lambda d: load_model(raw_safetensors(d / "m.st", {"__metadata__": {"format": 1}})), "strings to strings"),
    ("model", "version abc", read_model(meta={"version": "abc"}), "version must be a whole number"),
    ("model", "version newer", read_model(meta={"version": "7"}), "newer than this skelprompt"),
    ("model", "format", read_model(meta={"format": "x"}), "not a skelprompt model file"),
    ("model", "config missing", read_model(meta={"config": None}), "'config' is missing"),
    ("model", "config not JSON", read_model(meta={"config": "{oops"}), "'config' is not valid JSON"),
    ("model", "config a list", read_model(meta={"config": "[1]"}), "must be a JSON dict"),
    ("model", "provenance not JSON", read_model(meta={"provenance": "nope"}), "'provenance' is not valid JSON"),
    ("model", "provenance a list", read_model(meta={"provenance": "[]"}), "'provenance' must be a JSON dict"),
    ("model", "embed_dims 1e9", read_model(config={"embed_dims": BIG}), "embed_dims[2] = 1000000000 is too wide"),
    ("model", "embed_dims text", read_model(config={"embed_dims": "abc"}), "embed_dims must be a list"),
    ("model", "too many weights", read_model(config={"embed_dims": [8192] * 16}), "weights; at most"),
    ("model", "num_blocks text", read_model(config={"num_blocks": "2"}), "num_blocks must be an integer"),
    ("model", "num_blocks bool", read_model(config={"num_blocks": True}), "num_blocks must be an integer"),
    ("model", "dropout NaN", read_model(config={"dropout": float("nan")}), "dropout must be a finite number"),
    ("model", "text_dim 0", read_model(config={"text_dim": 0}), "text_dim must be >= 1"),
    ("model", "num_classes -1", read_model(config={"num_classes": -1}), "num_classes must be >= 0"),
    ("model", "fourier text", read_model(config={"fourier_freqs": ["a"]}), "fourier_freqs entry must be a finite"),
    ("model", "class_names ints", read_model(config={"class_names": [1]}), "class_names must be strings"),
    ("model", "points text", read_model(config={"points": "x"}), "points must be a JSON object"),
    ("model", "points.frames huge", read_model(config={"points": {"frames": 10**6}}), "points.frames must be <= 1024"),
    ("model", "points frames x persons", read_model(config={"points": {"frames": 1024, "persons": 64}}), "at most 4096"),
    ("model", "points.norm", read_model(config={"points": {"norm": "weird"}}), "points.norm must be one of"),
    ("model", "points.span", read_model(config={"points": {"span": -1}}), "points.span must be > 0"),
    ("model", "text_encoder folder", read_model(config={"text_encoder": "/tmp"}), "unknown text encoder '/tmp'"),
    ("model", "text_encoder number", read_model(config={"text_encoder": 5}), "text_encoder must be a string"),
    ("model", "get_text_encoder folder", lambda d: get_text_encoder(str(d)), "skelprompt loads only its known text encoders"),
    ("model", "shape vs config", read_model(config={"text_dim": 128}), "has shape (384, 256), config expects (128, 256)"),
    ("model", "missing weights", read_model(config={"num_blocks": 3}), "weights do not match the config"),
    ("model", "int weights", read_model(tensors={"logit_scale": torch.tensor(2)}), "expected a float type"),
    ("model", "NaN weights", read_model(tensors={"logit_scale": torch.tensor(float("nan"))}), "NaN or infinite"),
    ("model", "offsets outside", lambda d: load_model(raw_safetensors(d / "m.st", {"w": {"dtype": "F32", "shape": [10**6], "data_offsets": [0, 4 * 10**6]}})), "lie outside the file"),
    ("model", "shape vs bytes", lambda d: load_model(raw_safetensors(d / "m.st", {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]}}, b"\0" * 4)), "does not match its 4 bytes"),
    ("model", "a folder", lambda d: load_model(d), "is a folder"),
    # skelprompt .npz clip files
    ("npz", "__meta__ a list", read_npz(meta_bytes=b"[1, 2]"), "__meta__ must be a JSON object"),
    ("npz", "__meta__ not JSON", read_npz(meta_bytes=b"{oops"), "__meta__ is not valid JSON"),
    ("npz", "__meta__ not UTF-8", read_npz(meta_bytes=b"\xff\xfe"), "__meta__ is not UTF-8"),
    ("npz", "__meta__ deep", read_npz(meta_bytes=b"[" * 100000), "nested too deeply"),
    ("npz", "format", read_npz(header={"format": "other"}), "not a skelprompt clip file"),
    ("npz", "version abc", read_npz(header={"version": "abc"}), "version must be an integer"),
    ("npz", "version newer", read_npz(header={"version": 9}), "newer than this skelprompt"),
    ("npz", "clips 5", read_npz(header={"clips": 5}), "__meta__ clips must be a list"),
    ("npz", "clip not a dict", read_npz(header={"clips": [5]}), "clip 0: its metadata must be a JSON object"),
    ("npz", "layout unknown", read_npz(clip={"layout": "body99"}), "clip 0: unknown joint layout 'body99'"),
    ("npz", "layout number", read_npz(clip={"layout": 5}), "clip 0: layout must be a string"),
    ("npz", "img_shape wide", read_npz(clip={"img_shape": [480, "wide"]}), "img_shape must be (height, width)"),
    ("npz", "img_shape one", read_npz(clip={"img_shape": [480]}), "img_shape must be (height, width)"),
    ("npz", "img_shape negative", read_npz(clip={"img_shape": [-1, 5]}), "img_shape must be (height, width)"),
    ("npz", "fps fast", read_npz(clip={"fps": "fast"}), "fps must be a finite number"),
    ("npz", "fps negative", read_npz(clip={"fps": -5}), "fps must be > 0"),
    ("npz", "fps huge", read_npz(clip={"fps": 1e12}), "fps must be <= 10000"),
    ("npz", "label number", read_npz(clip={"label": 3}), "label must be a string"),
    ("npz", "frame_dir list", read_npz(clip={"frame_dir": [1]}), "frame_dir must be a string"),
    ("npz", "start_frame -1", read_npz(clip={"start_frame": -1}), "start_frame must be >= 0"),
    ("npz", "meta text", read_npz(clip={"meta": "x"}), "meta must be a JSON object"),
    ("npz", "complex keypoints", read_npz(arrays={"0/keypoint": np.ones((1, 4, 17, 2), np.complex64)}), "must hold real numbers, got dtype complex64"),
    ("npz", "text keypoints", read_npz(arrays={"0/keypoint": np.full((1, 4, 17, 2), "a")}), "must hold real numbers"),
    ("npz", "object keypoints", read_npz(arrays={"0/keypoint": np.ones((1, 4, 17, 2), object)}), "holds Python objects"),
    ("npz", "keypoint ndim", read_npz(arrays={"0/keypoint": np.ones((4, 17, 2), np.float32)}), "must have shape [M, T, V, 2]"),
    ("npz", "score shape", read_npz(arrays={"0/keypoint_score": np.ones((1, 3, 17), np.float32)}), "'0/keypoint_score' has shape (1, 3, 17)"),
    ("npz", "track_ids float", read_npz(arrays={"0/track_ids": np.ones(1)}), "'0/track_ids' must hold integers"),
    ("npz", "track_ids length", read_npz(arrays={"0/track_ids": np.ones(3, np.int64)}), "'0/track_ids' has shape (3,)"),
    ("npz", "no keypoint", read_npz(arrays={"0/keypoint": None}), "no array '0/keypoint'"),
    ("npz", "10^12 elements", lambda d: load_clips(npy_member_claiming(d / "c.npz", (10**6, 10**6))), "claims shape (1000000, 1000000)"),
    ("npz", "over the size cap", lambda d: inspect_npz(npz_file(d / "c.npz"), max_bytes=100), "GiB of uncompressed data"),
    ("npz", "not an npy member", lambda d: load_clips(_raw_member(d)), "no valid .npy header"),
    ("npz", "NaN scores", read_npz(arrays={"0/keypoint_score": np.full((1, 4, 17), np.nan, np.float32)}), "keypoint_score holds NaN"),
    ("npz", "scores over 1", read_npz(arrays={"0/keypoint_score": np.full((1, 4, 17), 2, np.float32)}), "must lie in [0, 1]"),
    ("npz", "inf coordinates", read_npz(arrays={"0/keypoint": np.full((1, 4, 17, 2), np.inf, np.float32)}), "NaN or infinite coordinates"),
    ("npz", "empty clip", read_npz(arrays={"0/keypoint": np.ones((1, 0, 17, 2)), "0/keypoint_score": np.ones((1, 0, 17))}), "empty clip"),
    ("npz", "wrong joint count", read_npz(clip={"layout": "openpose18"}), "has 18 joints, the clip has 17"),
    ("npz", "not a zip", lambda d: load_clips(_write(d / "c.npz", b"PK\x03\x04garbage")), "cannot read as .npz"),
    # PySKL pickles (trusted) and the restricted unpickler
    ("pyskl", "untrusted", lambda d: list(iter_pyskl(pyskl_file(d / "a.pkl"))), "pickle can run code"),
    ("pyskl", "ragged keypoints", read_pyskl(ann={"keypoint": [[[[1.0, 2.0]]], [[[1.0]]]]}), "not a rectangular array of numbers"),
    ("pyskl", "text keypoints", read_pyskl(ann={"keypoint": np.full((1, 4, 17, 2), "a")}), "keypoint must hold real numbers"),
    ("pyskl", "complex keypoints", read_pyskl(ann={"keypoint": np.ones((1, 4, 17, 2), complex)}), "keypoint must hold real numbers"),
    ("pyskl", "keypoint ndim", read_pyskl(ann={"keypoint": np.ones((4, 17, 2))}), "keypoint must be [M, T, V, C]"),
    ("pyskl", "keypoint C=1", read_pyskl(ann={"keypoint": np.ones((1, 4, 17, 1))}), "C >= 2"),
    ("pyskl", "no keypoint", read_pyskl(ann={"keypoint": None}), "annotation has no 'keypoint'"),
    ("pyskl", "score shape", read_pyskl(ann={"keypoint_score": np.ones((1, 4, 16))}), "keypoint_score has shape (1, 4, 16)"),
    ("pyskl", "score NaN", read_pyskl(ann={"keypoint_score": np.full((1, 4, 17), np.nan)}), "keypoint_score holds NaN"),
    ("pyskl", "img_shape wide", read_pyskl(ann={"img_shape": (480, "wide")}), "img_shape must be (height, width)"),
    ("pyskl", "img_shape int", read_pyskl(ann={"img_shape": 5}), "img_shape must be (height, width)"),
    ("pyskl", "img_shape negative", read_pyskl(ann={"img_shape": (-1, 3)}), "img_shape must be (height, width)"),
    ("pyskl", "label list", read_pyskl(ann={"label": [1]}), "label must be an integer or a string"),
    ("pyskl", "label NaN", read_pyskl(ann={"label": float("nan")}), "label must be an integer or a string"),
    ("pyskl", "frame_dir list", read_pyskl(ann={"frame_dir": [1]}), "frame_dir must be a string"),
    ("pyskl", "annotations dict", read_pyskl(top={"annotations": {"a": 1}}), "no 'annotations' list"),
    ("pyskl", "annotation not dict", read_pyskl(top={"annotations": [5]}), "annotations must be dicts"),
    ("pyskl", "split not dict", read_pyskl(top={"annotations": [], "split": [1]}), "'split' must map split names"),
    ("pyskl", "split values", read_pyskl(top={"annotations": [], "split": {"a": 5}}), "'split' must map split names"),
    ("pyskl", "broken pickle", lambda d: list(iter_pyskl(_write(d / "a.pkl", b"\x80\x04garbage"), trust_pickle=True)), "not a readable pickle"),
    ("pyskl", "huge memo index", lambda d: safe_loads(b"\x80\x02K\x01r\xff\xff\xff\x7f.", "m.pkl"), "m.pkl:"),
    ("pyskl", "ndarray called", lambda d: safe_loads(b"cnumpy\nndarray\n(L1000000000000L\ntR.", "n.pkl"), "n.pkl: not a readable pickle"),
    ("pyskl", "huge reconstruct", lambda d: safe_loads(b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000000000\ntS\"b\"\ntR.", "r.pkl"), "non-empty array"),
    ("pyskl", "codecs not latin-1", lambda d: safe_loads(b"c_codecs\nencode\n(Vx\nVzlib\ntR.", "c.pkl"), "Latin-1 text"),
    ("pyskl", "builtins eval", lambda d: safe_loads(b"cbuiltins\neval\n(V1\ntR.", "e.pkl"), "names builtins.eval"),
    # JSON keypoint files (OpenPose, COCO, AlphaPose)
    ("json", "openpose not UTF-8", read_json(read_openpose, b"\xff\xfe{"), "is not UTF-8 text"),
    ("json", "openpose deep", read_json(read_openpose, "[" * 100000), "nested too deeply"),
    ("json", "openpose people dict", read_json(read_openpose, {"people": {}}), "no 'people' list"),
    ("json", "openpose text numbers", read_json(read_openpose, {"people": [{"pose_keypoints_2d": ["1"] * 54}]}), "is not a list of numbers"),
    ("json", "openpose ragged", read_json(read_openpose, {"people": [{"pose_keypoints_2d": [[1, 2], [3]]}]}), "is not a list of numbers"),
    ("json", "openpose NaN", read_json(read_openpose, '{"people": [{"pose_keypoints_2d": [NaN' + ", 1" * 53 + "]}]}"), "NaN or infinite"),
    ("json", "openpose too large", read_json(read_openpose, {"people": [{"pose_keypoints_2d": [1e39] * 54}]}), "too large for float32"),
    ("json", "coco image_id list", read_json(read_coco_keypoints, [{"image_id": [1], "keypoints": COCO17}]), "'image_id' must be a string or a number"),
    ("json", "coco images dict", read_json(read_coco_keypoints, {"annotations": [], "images": {"a": 1}}), "'images' must be a list"),
    ("json", "coco height text", read_json(read_coco_keypoints, {"annotations": [], "images": [{"id": 1, "height": "a", "width": 5}]}), "images[0].height must be an integer"),
    ("json", "coco frame id list", read_json(read_coco_keypoints, {"annotations": [], "images": [{"id": 1, "frame_id": [1]}]}), "images[0] frame must be a string"),
    ("json", "coco negative id", read_json(read_coco_keypoints, [{"image_id": -5, "keypoints": COCO17}]), "frame numbers from the image ids"),
    ("json", "coco huge id", read_json(read_coco_keypoints, [{"image_id": 10**20, "keypoints": COCO17}]), "frame numbers from the image ids"),
    ("json", "coco bool keypoints", read_json(read_coco_keypoints, [{"image_id": 1, "keypoints": [True] * 51}]), "is not a list of numbers"),
    ("json", "alphapose dict", read_json(read_alphapose, {"a": 1}), "not an AlphaPose results file"),
    ("json", "alphapose keypoints null", read_json(read_alphapose, [{"image_id": "1.jpg", "keypoints": None}]), "is not a list of numbers"),
    # the Clip constructor's own check
    ("clip", "img_shape text", lambda d: Clip(**_clip_kw(img_shape=(480, "wide"))).validate(), "img_shape must be (height, width)"),
    ("clip", "fps text", lambda d: Clip(**_clip_kw(fps="fast")).validate(), "fps must be a number"),
    ("clip", "fps zero", lambda d: Clip(**_clip_kw(fps=0.0)).validate(), "fps must be a number"),
    ("clip", "start_frame -1", lambda d: Clip(**_clip_kw(start_frame=-1)).validate(), "start_frame must be an integer >= 0"),
    ("clip", "track_ids", lambda d: Clip(**_clip_kw(track_ids=np.ones(2))).validate(), "track_ids must be 1 integers"),
    ("clip", "keypoint3d", lambda d: Clip(**_clip_kw(keypoint3d=np.ones((1, 4, 17, 2)))).validate(), "keypoint3d must be a real array"),
    ("clip", "complex", lambda d: Clip(**_clip_kw(keypoint=np.ones((1, 4, 17, 2), complex))).validate(), "real numeric arrays"),
    ("clip", "ragged", lambda d: Clip(**_clip_kw(keypoint=[[1.0], [1.0, 2.0]])).validate(), "rectangular arrays"),
    ("clip", "layout", lambda d: Clip(**_clip_kw(layout="body99")).validate(), "c.npz: unknown joint layout"),
    ("clip", "meta", lambda d: Clip(**_clip_kw(meta=[1])).validate(), "meta must be a dict"),
]  # fmt: skip


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _raw_member(d: Path) -> Path:
    path = npz_file(d / "c.npz")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("notes.txt", b"hello")
    return path


def _clip_kw(**kw: Any) -> dict[str, Any]:
    a = clip_arrays()
    return {"keypoint": a["0/keypoint"], "keypoint_score": a["0/keypoint_score"], "layout": "coco17",
            "source": "c.npz"} | kw  # fmt: skip


@pytest.mark.parametrize("family, name, read, fragment", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_named_bad_input_is_one_clear_error(tmp_path, family, name, read, fragment):
    with pytest.raises(SkelpromptError) as e:
        read(tmp_path)
    msg = str(e.value)
    assert fragment in msg, msg
    assert "\n" not in msg  # one line
    assert str(tmp_path) in msg or msg.split(":")[0] in (
        "m.pkl",
        "n.pkl",
        "r.pkl",
        "c.pkl",
        "e.pkl",
        "c.npz",
    ), msg


def test_case_counts_per_family():
    counts = {f: sum(c[0] == f for c in CASES) for f in ("model", "npz", "pyskl", "json", "clip")}
    assert all(n >= 10 for n in counts.values()), counts


# ---------------------------------------------------------------------- data set readers
def _jhmdb_root(d: Path, content: Any) -> Path:
    (d / jhmdb.FOLDER).mkdir()
    with open(d / jhmdb.FOLDER / "GT_train_1.pkl", "wb") as fh:
        pickle.dump(content, fh)
    return d


def _msr_root(d: Path, **arrays: Any) -> Path:
    from skelprompt.datasets import msr

    (d / msr.FOLDER).mkdir()
    base = {"joints": np.zeros((2, 20, 4), np.float32), "offsets": np.array([0, 2]), "ids": np.array(["a"]),
            "action": np.array([1]), "subject": np.array([1]), "episode": np.array([1]),
            "used_in_cvpr12": np.array([True]), "label_names": np.array(["x"])}  # fmt: skip
    np.savez(d / msr.FOLDER / msr.FILE, **(base | arrays))
    return d


def _urfd_root(d: Path, frames: list[int]) -> Path:
    from skelprompt.datasets import urfd

    (d / urfd.FOLDER).mkdir()
    cols = [f"{j}_{c}" for j in urfd.JOINTS for c in "xys"]
    rows = [",".join(["fall-01", str(f), *["0.5"] * len(cols), "0"]) for f in frames]
    (d / urfd.FOLDER / urfd.FILE).write_text("\n".join([",".join(["video", "frame", *cols, "label"]), *rows]))
    return d


def _load(name: str) -> Callable[[Path], Any]:
    from importlib import import_module

    return import_module(f"skelprompt.datasets.{name}").load


def _gepc(d: Path, content: Any) -> Any:
    from skelprompt.datasets import label_lists

    (d / "label_lists").mkdir()
    (d / "label_lists" / "gepc_splits.json").write_text(json.dumps(content))
    return label_lists.gepc_splits(d)


def _sbu_bytes(d: Path, data: bytes) -> Any:
    f = d / "sbu_kinect_interaction" / "s01s02" / "01" / "001" / "skeleton_pos.txt"
    f.parent.mkdir(parents=True)
    f.write_bytes(data)
    return _load("sbu")(d)


DATASET_CASES: list[tuple[str, Callable[[Path], Any], str]] = [
    ("jhmdb pose not a list", lambda d: jhmdb.load(_jhmdb_root(d, {"pose": 5, "label": []})), "'pose' must be a list"),
    ("jhmdb label numbers", lambda d: jhmdb.load(_jhmdb_root(d, {"pose": [np.zeros((3, 15, 2))], "label": [1]})), "every 'label' must be a string"),
    ("jhmdb ragged pose", lambda d: jhmdb.load(_jhmdb_root(d, {"pose": [[[1.0, 2.0], [3.0]]], "label": ["run"]})), "pose 0 is not a rectangular array"),
    ("jhmdb not a dict", lambda d: jhmdb.load(_jhmdb_root(d, [1, 2])), "expected a dict with keys 'pose' and 'label'"),
    ("msr offsets text", lambda d: _load("msr")(_msr_root(d, offsets=np.array(["0", "2"]))), "array 'offsets' must hold integers"),
    ("msr action float", lambda d: _load("msr")(_msr_root(d, action=np.array([np.nan]))), "array 'action' must hold integers"),
    ("msr joints text", lambda d: _load("msr")(_msr_root(d, joints=np.full((2, 20, 4), "a"))), "array 'joints' must hold numbers"),
    ("msr ids numbers", lambda d: _load("msr")(_msr_root(d, ids=np.array([1]))), "array 'ids' must hold text"),
    ("msr object array", lambda d: _load("msr")(_msr_root(d, ids=np.array(["a"], object))), "holds Python objects"),
    ("urfd frames far apart", lambda d: _load("urfd")(_urfd_root(d, [0, 10**9])), "far apart"),
    ("urfd negative frames", lambda d: _load("urfd")(_urfd_root(d, [-3, 1])), "negative"),
    ("sbu not UTF-8", lambda d: _sbu_bytes(d, b"\xff\xfe\x00garbage"), "not a text file"),
    ("gepc not an object", lambda d: _gepc(d, [1]), "must be a JSON object"),
    ("gepc classes", lambda d: _gepc(d, {"fam": {"split": [1, 2]}}), "must be a list of objects with a 'name'"),
]  # fmt: skip


@pytest.mark.parametrize("name, read, fragment", DATASET_CASES, ids=[c[0] for c in DATASET_CASES])
def test_bad_data_set_file_is_one_clear_error(tmp_path, name, read, fragment):
    with pytest.raises(SkelpromptError) as e:
        read(tmp_path)
    assert fragment in str(e.value) and str(tmp_path) in str(e.value) and "\n" not in str(e.value), str(
        e.value
    )


def test_a_malicious_pickle_runs_nothing(tmp_path):
    """JHMDB needs no --trust-pickle, so its pickles are read with the restricted unpickler;
    PySKL files keep the --trust-pickle gate and are restricted even when trusted."""
    target = tmp_path / "pwned"
    (tmp_path / "root").mkdir()
    root = _jhmdb_root(tmp_path / "root", {"pose": [Evil(target)], "label": ["run"]})
    with pytest.raises(
        UnsafePickleError, match=r"GT_train_1\.pkl: the pickle names posix\.system|nt\.system"
    ):
        jhmdb.load(root)
    ann = pyskl_file(tmp_path / "a.pkl", top={"annotations": [{"keypoint": Evil(target)}]})
    with pytest.raises(UnsafePickleError, match="nothing in the file was run"):
        list(iter_pyskl(ann, trust_pickle=True))
    r = run_cli("data", "show", "jhmdb", "--data-root", str(root))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert not target.exists()
    # the control: the same file, unpickled without restriction, does create it
    with open(root / jhmdb.FOLDER / "GT_train_1.pkl", "rb") as fh:
        pickle.load(fh)  # noqa: S301 - proves the test can fail
    assert target.exists()


def test_jhmdb_reads_the_same_through_the_restricted_unpickler(data_root):
    from skelprompt.datasets.jhmdb import read_pickle

    path = data_root / jhmdb.FOLDER / "GT_test_1.pkl"
    poses, labels = read_pickle(path)
    with open(path, "rb") as fh:
        raw = pickle.load(fh)  # noqa: S301 - the real data set file, as the reader read it before
    assert labels == raw["label"] and all(
        np.array_equal(a, b) for a, b in zip(poses, raw["pose"], strict=True)
    )


# ---------------------------------------------------------------------- command line
def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_inspect_bad_files_exit_2_with_one_line(tmp_path):
    files = [npz_file(tmp_path / "a.npz", meta_bytes=b"[1]"), npz_file(tmp_path / "b.npz", clip={"img_shape": [480, "wide"]}),
             npy_member_claiming(tmp_path / "c.npz", (10**6, 10**6)), npz_file(tmp_path / "d.npz", arrays={"0/keypoint": np.ones((1, 4, 17, 2), np.complex64)})]  # fmt: skip
    for f in files:
        r = run_cli("inspect", str(f))
        assert r.returncode == 2, (f, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {f}") and "Traceback" not in r.stderr, (
            r.stderr
        )
    r = run_cli(
        "inspect", str(pyskl_file(tmp_path / "e.pkl", ann={"img_shape": (480, "wide")})), "--trust-pickle"
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "img_shape" in r.stderr, r.stderr


def _with_config(src: Path, dst: Path, key: str, **changes: Any) -> Path:
    """A copy of safetensors file ``src`` whose JSON metadata field ``key`` has ``changes``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata())
    meta[key] = json.dumps({**json.loads(meta[key]), **changes})
    save_file(load_file(str(src)), str(dst), metadata=meta)
    return dst


BAD_MODEL_CONFIGS = [  # a field, its bad value, what the one line must say about it
    ({"embed_dims": [64, 128, 1e9]}, "embed_dims[2] = 1000000000.0 is too wide"),
    ({"text_encoder": "/etc"}, "text_encoder: unknown text encoder '/etc' (a folder is never loaded"),
]


@pytest.mark.parametrize("change, says", BAD_MODEL_CONFIGS)
def test_cli_bad_model_config_names_the_field_in_one_line(tmp_path, change, says):
    """A model file at load (fit), and the same config inside a detector file when prompting."""
    from skelprompt.detector import Detector

    clips = [
        Clip.create(np.random.default_rng(i).random((8, 17, 2)).astype(np.float32) * 100) for i in range(4)
    ]
    clip_file = tmp_path / "c.npz"
    save_clips(clip_file, clips)
    model = untrained_model("small", seed=0)
    save_model(tmp_path / "good.safetensors", model)
    Detector(model).fit(clips).save(tmp_path / "det.safetensors")
    bad_model = _with_config(
        tmp_path / "good.safetensors", tmp_path / "bad-model.safetensors", "config", **change
    )
    bad_det = _with_config(
        tmp_path / "det.safetensors", tmp_path / "bad-det.safetensors", "model_config", **change
    )
    runs = [
        (
            bad_model,
            ("fit", str(clip_file), "--model", str(bad_model), "-o", str(tmp_path / "x.safetensors")),
        ),
        (bad_det, ("score", "-d", str(bad_det), str(clip_file), "--prompt", "a person falling down")),
    ]
    for bad, args in runs:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ") and says in lines[0], r.stderr
    assert not (tmp_path / "x.safetensors").exists()


# ---------------------------------------------------------------------- writes
def _no_temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_writes_to_a_folder_or_under_a_file_are_clear_errors(tmp_path):
    clip = Clip.create(clip_arrays()["0/keypoint"][0])
    (tmp_path / "out.npz").mkdir()
    with pytest.raises(WriteError, match=r"out\.npz: cannot write \(it is an existing folder\)"):
        save_clips(tmp_path / "out.npz", [clip])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(WriteError, match=r"afile is a file, not a folder"):
        save_clips(tmp_path / "afile" / "sub" / "x.npz", [clip])
    with pytest.raises(WriteError, match="afile"):
        save_model(tmp_path / "afile" / "m.safetensors", untrained_model())
    from skelprompt.io.openpose import write_openpose

    with pytest.raises(WriteError, match="a file has this name"):
        write_openpose(tmp_path / "afile", Clip.create(np.ones((4, 18, 2)), layout="openpose18"))
    assert _no_temp_files(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(WriteError, match=r"x\.npz: cannot write \(permission denied\)"):
            save_clips(ro / "x.npz", [Clip.create(clip_arrays()["0/keypoint"][0])])
    finally:
        ro.chmod(0o755)


FULL_DISK = r"""
import resource, signal, sys
from pathlib import Path
import numpy as np
from skelprompt.clip import Clip
from skelprompt.errors import WriteError
from skelprompt.io import save_clips
from skelprompt.io.atomic import write_text_atomic
from skelprompt.model import save_model, untrained_model

out = Path(sys.argv[1])
clip = Clip.create(np.random.default_rng(0).random((400, 17, 2)) * 100)
save_clips(out / "kept.npz", [clip.frames(0, 2)])  # an existing file the failed write must not touch
before = (out / "kept.npz").read_bytes()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))  # no file may grow beyond 8 kB: a full disk
model = untrained_model()
for name, write in [("kept.npz", lambda p: save_clips(p, [clip])), ("m.safetensors", lambda p: save_model(p, model)),
                    ("t.json", lambda p: write_text_atomic(p, "x" * 100000))]:
    try:
        write(out / name)
        print("no error for", name)
    except WriteError as e:
        print("WriteError", e)
print("SAME" if (out / "kept.npz").read_bytes() == before else "CHANGED")
"""


def test_a_full_disk_is_a_clear_error_and_leaves_no_temp_file(tmp_path):
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    lines = r.stdout.splitlines()
    assert len([ln for ln in lines if ln.startswith("WriteError ")]) == 3, r.stdout
    assert all("cannot write (the file is too large" in ln for ln in lines if ln.startswith("WriteError")), (
        r.stdout
    )
    assert lines[-1] == "SAME"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz"]  # no temp file, nothing half-written


def test_text_encoder_loads_quietly_unless_verbose():
    code = (
        "import os, sys\nfrom transformers.utils import logging as hf\n"
        "from skelprompt.model.text import SentenceTransformerEncoder, _minilm_path\n"
        "a = SentenceTransformerEncoder('m', _minilm_path()).encode(['people fighting'])\n"
        "print('MARK', hf.is_progress_bar_enabled(), file=sys.stderr, flush=True)\n"
        "os.environ['SKELPROMPT_VERBOSE'] = '1'\n"
        "b = SentenceTransformerEncoder('m', _minilm_path()).encode(['people fighting'])\n"
        "print((a == b).all())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    quiet, _, verbose = r.stderr.partition("MARK True")
    assert r.returncode == 0 and r.stdout.strip() == "True" and _ == "MARK True", r.stderr
    assert "Loading weights" not in quiet and "Loading weights" in verbose, r.stderr


# ---------------------------------------------------------------------- property-based fuzzing
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=8,
)
DTYPES = st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.bool_, np.complex64, "<U2", object])


def maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Usually a valid value, sometimes any JSON value."""
    return st.one_of(valid, valid, JSON)


@st.composite
def any_array(draw: Any, valid_shape: tuple[int, ...]) -> np.ndarray:
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float32]) | DTYPES)
    shape = draw(st.just(valid_shape) | hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
    if dtype is object:
        return np.array(draw(st.lists(JSON, min_size=1, max_size=3)) + [None], dtype=object)
    elements = st.floats(0, 1) if np.dtype(dtype).kind == "f" and draw(st.booleans()) else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


def assert_only_clear_errors(read: Callable[[], Any]) -> Any:
    """``read()`` returns, or raises a SkelpromptError; and never allocates more than the cap."""
    tracemalloc.start()
    try:
        return read()
    except SkelpromptError as e:
        assert "\n" not in str(e)
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK_BYTES, peak


CLIP_META = st.fixed_dictionaries({
    "layout": maybe(st.just("coco17")), "fps": maybe(st.floats(1, 100)), "img_shape": maybe(st.just([480, 640])),
    "label": maybe(st.text(max_size=4)), "frame_dir": maybe(st.text(max_size=4)),
    "start_frame": maybe(st.integers(0, 10)), "meta": maybe(st.just({})),
})  # fmt: skip


@FUZZ
@given(clip=CLIP_META, header=st.dictionaries(st.sampled_from(["format", "version", "clips"]), JSON, max_size=1),
       kp=any_array((1, 3, 17, 2)), sc=any_array((1, 3, 17)), tid=st.none() | any_array((1,)))  # fmt: skip
def test_fuzz_npz_reader(clip, header, kp, sc, tid):
    with tempfile.TemporaryDirectory() as d:
        path = npz_file(Path(d) / "f.npz", clip=clip, header=header,
                        arrays={"0/keypoint": kp, "0/keypoint_score": sc, "0/track_ids": tid})  # fmt: skip
        clips = assert_only_clear_errors(lambda: load_clips(path))
        for c in clips or []:
            assert c.validate() is c and c.keypoint.dtype == np.float32


@FUZZ
@given(data=st.binary(min_size=1, max_size=64), at=st.integers(0, 10**6), cut=st.booleans())
def test_fuzz_npz_bytes(data, at, cut):
    """Corrupted clip files: bytes overwritten (npy headers included) or the file cut short."""
    with tempfile.TemporaryDirectory() as d:
        good = npz_file(Path(d) / "g.npz").read_bytes()
        at %= len(good)
        bad = good[:at] if cut else good[:at] + data + good[at + len(data) :]
        path = _write(Path(d) / "b.npz", bad)
        assert_only_clear_errors(lambda: load_clips(path))


@FUZZ
@given(shape=st.lists(st.integers(0, 10**9) | st.integers(0, 4), max_size=5).map(tuple))
def test_fuzz_npy_header_claims(shape):
    """Any shape a member's .npy header claims: only the bytes it really holds are read."""
    with tempfile.TemporaryDirectory() as d:
        path = npy_member_claiming(Path(d) / "c.npz", shape)
        assert_only_clear_errors(lambda: load_clips(path))


@FUZZ
@given(ann=st.fixed_dictionaries({"frame_dir": maybe(st.just("a")), "label": maybe(st.integers(0, 3)),
                                  "img_shape": maybe(st.just((480, 640))), "keypoint": any_array((1, 3, 17, 3))},
                                 optional={"keypoint_score": any_array((1, 3, 17))}),
       split=st.none() | JSON)  # fmt: skip
def test_fuzz_pyskl_reader(ann, split):
    with tempfile.TemporaryDirectory() as d:
        top = {"annotations": [ann]} | ({} if split is None else {"split": split})
        path = pyskl_file(Path(d) / "a.pkl", top=top)
        assert_only_clear_errors(lambda: list(iter_pyskl(path, trust_pickle=True, label_names=["a", "b"])))


@FUZZ
@given(data=st.binary(min_size=1, max_size=16), at=st.integers(0, 10**6))
def test_fuzz_safe_unpickler(data, at):
    good = pickle.dumps(
        {"annotations": [{"keypoint": np.ones((1, 2, 3), np.float32), "label": 1}]}, protocol=2
    )
    at %= len(good)
    assert_only_clear_errors(lambda: safe_loads(good[:at] + data + good[at + len(data) :], "x.pkl"))


SMALL = untrained_model().cfg.to_dict()


@FUZZ
@given(
    key=st.sampled_from(sorted(SMALL)),
    value=JSON,
    points_key=st.sampled_from(["frames", "persons", "norm", "span"]),
)
def test_fuzz_model_config(key, value, points_key):
    for d in (SMALL | {key: value}, SMALL | {"points": SMALL["points"] | {points_key: value}}):
        try:
            cfg = ModelConfig.from_dict(d)
        except SkelpromptError:
            continue
        assert parameter_count(cfg) <= MAX_PARAMETERS


@FUZZ
@given(field=st.sampled_from(["format", "version", "config", "provenance"]), value=JSON | st.text(max_size=8))
def test_fuzz_model_metadata(field, value):
    with tempfile.TemporaryDirectory() as d:
        raw = value if isinstance(value, str) else json.dumps(value)
        path = model_file(Path(d) / "m.safetensors", meta={field: raw})
        assert_only_clear_errors(lambda: load_model(path))


RECORD = st.fixed_dictionaries({"image_id": maybe(st.integers(0, 5)), "keypoints": maybe(st.just(COCO17)),
                                "track_id": maybe(st.integers(0, 3)), "idx": maybe(st.integers(0, 3))})  # fmt: skip


@FUZZ
@given(records=st.lists(RECORD, max_size=4) | JSON,
       images=st.lists(st.fixed_dictionaries({"id": maybe(st.integers(0, 5)), "height": maybe(st.just(480)),
                                               "width": maybe(st.just(640))}), max_size=3) | JSON,
       people=st.lists(st.fixed_dictionaries({"pose_keypoints_2d": maybe(st.just([1.0, 2.0, 1.0] * 18)),
                                              "person_id": maybe(st.just([1]))}), max_size=3) | JSON)  # fmt: skip
def test_fuzz_json_readers(records, images, people):
    with tempfile.TemporaryDirectory() as d:
        cases: list[tuple[Callable[[Path], Any], Any]] = [
            (read_coco_keypoints, records), (read_alphapose, records),
            (read_coco_keypoints, {"annotations": records, "images": images}), (read_openpose, {"people": people})]  # fmt: skip
        for reader, content in cases:
            assert_only_clear_errors(partial(read_json(reader, content), Path(tempfile.mkdtemp(dir=d))))
