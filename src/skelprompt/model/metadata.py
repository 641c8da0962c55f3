"""The header of a ``.safetensors`` file, read and checked without loading any tensor.

A safetensors file is 8 bytes (little-endian header length), a JSON header
``{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}, ...}`` and the tensor
bytes. :func:`read_header` checks the header's structure and that every tensor's shape and
dtype agree with its byte range and the file size, so callers can compare shapes with a config
before they build (and allocate) a model. The metadata helpers turn a missing, non-JSON or
wrongly typed field into one :class:`ModelError` naming the file and the key.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skelprompt.errors import ModelError
from skelprompt.io.fields import describe, parse_json

MAX_HEADER_BYTES = 100_000_000
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]


def _raw_header(path: Path) -> tuple[Any, int]:
    """The parsed JSON header and the number of data bytes after it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: file too short to be a safetensors file")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > MAX_HEADER_BYTES:
                raise ModelError(f"{path}: not a safetensors file (bad header length)")
            raw = fh.read(n)
            if len(raw) < n:
                raise ModelError(f"{path}: truncated safetensors header")
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a safetensors file") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelError(f"{path}: not a safetensors file (header is not JSON)") from None
    return header, size - 8 - n


def _tensor_info(path: Path, name: str, entry: Any, data_bytes: int) -> TensorInfo:
    where = f"{path}: tensor {name[:100]!r}"
    if not isinstance(entry, dict):
        raise ModelError(f"{where}: header entry must be an object, got {describe(entry)}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise ModelError(f"{where}: unknown dtype {describe(dtype)}")
    if not isinstance(shape, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in shape
    ):
        raise ModelError(f"{where}: shape must be a list of integers >= 0, got {describe(shape)}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_bytes
    ):
        raise ModelError(f"{where}: data_offsets {describe(offsets)} lie outside the file's data")
    if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_SIZES[dtype]:
        raise ModelError(
            f"{where}: shape {shape} of {dtype} does not match its {offsets[1] - offsets[0]} bytes"
        )
    return TensorInfo(dtype, tuple(shape))


def read_header(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """The checked header of a safetensors file (no tensor data is read)."""
    path = Path(path)
    header, data_bytes = _raw_header(path)
    if not isinstance(header, dict):
        raise ModelError(f"{path}: not a safetensors file (header is {type(header).__name__}, not an object)")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise ModelError(f"{path}: safetensors metadata must map strings to strings")
    tensors = {
        name: _tensor_info(path, name, entry, data_bytes)
        for name, entry in header.items()
        if name != "__metadata__"
    }
    return SafetensorsHeader(tensors, meta)


def read_safetensors_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata of a safetensors file, with clear errors for other files."""
    return read_header(path).metadata


def meta_version(path: object, meta: dict[str, str], newest: int, what: str) -> int:
    """The file's format version (``"0"`` when absent); newer than ``newest`` is an error."""
    raw = meta.get("version", "0")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ModelError(f"{path}: {what} version must be a whole number, got {describe(raw)}")
    version = int(raw)
    if version > newest:
        raise ModelError(f"{path}: {what} version {version} is newer than this skelprompt reads")
    return version


def meta_json(path: object, meta: dict[str, str], key: str, default: Any = None, kind: type = dict) -> Any:
    """Metadata field ``key`` parsed as JSON of type ``kind`` (``default`` when absent)."""
    if key not in meta:
        if default is None:
            raise ModelError(f"{path}: metadata field {key!r} is missing")
        return default
    value = parse_json(meta[key], path, f"metadata field {key!r}", ModelError)
    if not isinstance(value, kind):
        raise ModelError(
            f"{path}: metadata field {key!r} must be a JSON {kind.__name__}, got {type(value).__name__}"
        )
    return value
