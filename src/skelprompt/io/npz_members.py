"""Look inside a ``.npz`` before NumPy loads it: the shape and dtype of every array, from the
``.npy`` header of each zip member, without reading the data.

``np.load`` allocates what a member's header claims before it reads a byte, so a 2 kB file
claiming 10^12 elements asks for terabytes. :func:`inspect_npz` refuses such files: the data
a header claims must be exactly the bytes its member holds, and the members together may not
hold more than :data:`MAX_NPZ_BYTES` uncompressed (zip stops reading a member at its stated
size, so that size is a hard cap on what decompression produces).
"""

from __future__ import annotations

import lzma
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from skelprompt.errors import FileFormatError, in_file

MAX_NPZ_BYTES = 4 * 1024**3  # uncompressed; far above any clip or data set file (the largest is ~20 MB)
MAX_ARRAYS = 1_000_000


@dataclass(frozen=True)
class NpyInfo:
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


def _fail(path: object, message: str) -> FileFormatError:
    return FileFormatError(in_file(path, message))


def _read_header(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> NpyInfo:
    where = f"{path}: array {info.filename!r}"
    with zf.open(info) as fh:
        try:
            version = npy_format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
            else:
                raise FileFormatError(f"{where} uses .npy format version {version}, which is not read")
        except FileFormatError:
            raise
        except (ValueError, OSError, EOFError, SyntaxError, TypeError, zlib.error, lzma.LZMAError) as e:
            raise FileFormatError(f"{where} has no valid .npy header ({e})") from None
        header_end = fh.tell()
    if dtype.hasobject:
        raise FileFormatError(f"{where} holds Python objects; skelprompt never unpickles them")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise FileFormatError(f"{where} has an invalid shape {shape}")
    if dtype.itemsize == 0:
        raise FileFormatError(f"{where} has dtype {dtype} of size 0")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed != info.file_size - header_end:
        raise FileFormatError(
            f"{where} claims shape {shape} of {dtype} ({claimed:,} bytes) but holds "
            f"{max(info.file_size - header_end, 0):,} bytes"
        )
    return NpyInfo(tuple(shape), dtype)


def inspect_npz(path: str | os.PathLike[str], max_bytes: int = MAX_NPZ_BYTES) -> dict[str, NpyInfo]:
    """Array name (``.npy`` suffix dropped, as ``np.load`` names it) -> shape and dtype.

    Raises :class:`FileFormatError` for a file that is not a zip of ``.npy`` arrays, an array
    of Python objects, a header that claims more data than the member holds, or more than
    ``max_bytes`` of uncompressed data.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ARRAYS:
                raise _fail(path, f"holds {len(members):,} arrays; at most {MAX_ARRAYS:,} are read")
            total = sum(m.file_size for m in members)
            if total > max_bytes:
                raise _fail(
                    path,
                    f"claims {total / 1024**3:.1f} GiB of uncompressed data; skelprompt reads at most "
                    f"{max_bytes / 1024**3:.1f} GiB from one .npz",
                )
            out = {}
            for m in members:
                if m.is_dir():
                    continue
                name = m.filename[: -len(".npy")] if m.filename.endswith(".npy") else m.filename
                out[name] = _read_header(path, zf, m)
            return out
    except FileFormatError:
        raise
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
    ) as e:
        raise _fail(path, f"cannot read as .npz ({type(e).__name__}: {e})") from None
    except (OSError, RuntimeError, ValueError) as e:  # unreadable, encrypted, bad compression
        raise _fail(path, f"cannot read as .npz ({type(e).__name__}: {e})") from None
