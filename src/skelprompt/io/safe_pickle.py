"""A restricted unpickler: reads pickles of plain data (dicts, lists, tuples, strings, numbers and
NumPy arrays) and refuses, before anything runs, a pickle that names any other Python object.

A pickle is a small program: the names it imports (``GLOBAL`` / ``STACK_GLOBAL``) are called
while it loads, so ``os.system`` in a file means code runs. :class:`SafeUnpickler` resolves
only the names that NumPy's own pickles of arrays, dtypes and scalars use (under NumPy 1 and 2
module paths), plus ``set``/``frozenset`` and ``_codecs.encode`` for Latin-1 text (protocol 2
pickles of bytes). Every other name raises :class:`~skelprompt.errors.UnsafePickleError`
naming the file and the object. The data set pickles (JHMDB) and PySKL annotation files need
no more than this.

Arrays cannot be made bigger than the file: ``ndarray`` itself is never handed out (only a
token that :func:`_reconstruct` accepts), and the data of an array must be in the pickle.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.errors import FileFormatError, UnsafePickleError, in_file

# NumPy's own reconstruction functions, found through NumPy rather than a private module path.
_NUMPY_RECONSTRUCT: Any = np.zeros(0).__reduce__()[0]
_NUMPY_SCALAR: Any = np.float32(0).__reduce__()[0]
_NUMPY_FROMBUFFER: Any = np.zeros(1).__reduce_ex__(5)[0]
_MAX_EMPTY_ELEMENTS = 0  # numpy pickles start every array as an empty one, then fill it in


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` inside a pickle; only :func:`_reconstruct` accepts it."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if (
        subtype is not _NdarrayToken
        or not isinstance(shape, tuple)
        or any(not isinstance(n, int) or n < 0 for n in shape)
    ):
        raise pickle.UnpicklingError("numpy array reconstruction with unexpected arguments")
    if int(np.prod(shape, dtype=object)) > _MAX_EMPTY_ELEMENTS:
        raise pickle.UnpicklingError("numpy array reconstruction asks for a non-empty array")
    return _NUMPY_RECONSTRUCT(np.ndarray, shape, dtype)


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol 2 pickles use it for bytes: Latin-1 text only."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError("_codecs.encode is allowed only for Latin-1 text")
    return text.encode("latin-1")


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NdarrayToken,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_encode,
    **{(m, "_reconstruct"): _reconstruct for m in _NUMPY_MODULES},
    **{(m, "scalar"): _NUMPY_SCALAR for m in _NUMPY_MODULES},
    **{(m, "_frombuffer"): _NUMPY_FROMBUFFER for m in ("numpy.core.numeric", "numpy._core.numeric")},
}


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the names in :data:`ALLOWED`."""

    def __init__(self, file: Any, where: object = None) -> None:
        super().__init__(file)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module  # Python 2 pickles
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                in_file(
                    self.where,
                    f"the pickle names {module}.{name}, which skelprompt does not load (only plain data "
                    "and NumPy arrays are allowed); nothing in the file was run",
                )
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(in_file(self.where, "the pickle uses persistent ids, which are not allowed"))


def safe_loads(data: bytes, where: object = None) -> Any:
    """Unpickle ``data`` with :class:`SafeUnpickler` (errors name ``where``)."""
    return _load(io.BytesIO(data), where)


def safe_load(path: str | os.PathLike[str]) -> Any:
    """Unpickle the file at ``path`` with :class:`SafeUnpickler`; one clear error for anything
    that is not a pickle of plain data."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise FileFormatError(in_file(path, "no such file")) from None
    except OSError as e:
        raise FileFormatError(in_file(path, f"cannot read ({e.strerror or e})")) from None
    with fh:
        return _load(fh, path)


def _load(fh: Any, where: object) -> Any:
    try:
        return SafeUnpickler(fh, where).load()
    except UnsafePickleError:
        raise
    except RecursionError:
        raise FileFormatError(in_file(where, "the pickle is nested too deeply to read")) from None
    except MemoryError:
        raise FileFormatError(in_file(where, "the pickle asks for more memory than there is")) from None
    except Exception as e:  # a broken pickle can raise nearly anything
        raise FileFormatError(in_file(where, f"not a readable pickle ({type(e).__name__}: {e})")) from None
