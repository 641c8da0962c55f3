"""Checks for values read from files (JSON metadata, pickled annotations, safetensors headers).

Each ``require_*`` returns the value as its plain Python type or raises ``error`` (a
:class:`~skelprompt.errors.SkelpromptError` subclass, :class:`FileFormatError` unless told)
whose one line names ``where`` (the file, and the clip or key) and what is wrong. Booleans are
never accepted as numbers: in JSON and pickles ``true`` for a count is a bug, not a 1.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

import numpy as np

from skelprompt.errors import FileFormatError, SkelpromptError, in_file

ErrorType = type[SkelpromptError]

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = _short.maxtuple = _short.maxdict = 4


def describe(value: Any) -> str:
    """A short form of ``value`` for an error message (never the whole of a big list)."""
    return _short.repr(value)


def fail(error: ErrorType, where: object, message: str) -> SkelpromptError:
    return error(in_file(where, message))


def is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _check_range(value: float, where: object, what: str, lo: float | None, hi: float | None,
                 lo_open: bool, error: ErrorType) -> None:  # fmt: skip
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise fail(error, where, f"{what} must be {'>' if lo_open else '>='} {lo:g}, got {value!r}")
    if hi is not None and value > hi:
        raise fail(error, where, f"{what} must be <= {hi:g}, got {value!r}")


def require_int(value: Any, where: object, what: str, lo: int | None = None, hi: int | None = None,
                error: ErrorType = FileFormatError) -> int:  # fmt: skip
    """An integer (Python or NumPy, not bool) within [lo, hi]."""
    if not is_int(value):
        raise fail(error, where, f"{what} must be an integer, got {describe(value)}")
    out = int(value)
    _check_range(out, where, what, lo, hi, False, error)
    return out


def require_real(value: Any, where: object, what: str, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, error: ErrorType = FileFormatError) -> float:  # fmt: skip
    """A finite real number (not bool) within [lo, hi] (or (lo, hi] with ``lo_open``)."""
    if not is_real(value) or not math.isfinite(float(value)):
        raise fail(error, where, f"{what} must be a finite number, got {describe(value)}")
    out = float(value)
    _check_range(out, where, what, lo, hi, lo_open, error)
    return out


def require_str(value: Any, where: object, what: str, error: ErrorType = FileFormatError) -> str:
    if not isinstance(value, str):
        raise fail(error, where, f"{what} must be a string, got {describe(value)}")
    return value


def optional_str(value: Any, where: object, what: str, error: ErrorType = FileFormatError) -> str | None:
    return None if value is None else require_str(value, where, what, error)


def require_dict(value: Any, where: object, what: str, error: ErrorType = FileFormatError) -> dict:
    if not isinstance(value, dict):
        raise fail(error, where, f"{what} must be a JSON object (a dict), got {type(value).__name__}")
    return value


def require_list(value: Any, where: object, what: str, error: ErrorType = FileFormatError,
                 max_len: int | None = None) -> list:  # fmt: skip
    if not isinstance(value, list | tuple):
        raise fail(error, where, f"{what} must be a list, got {describe(value)}")
    if max_len is not None and len(value) > max_len:
        raise fail(error, where, f"{what} has {len(value)} entries; at most {max_len} are allowed")
    return list(value)


def parse_json(raw: bytes | str, where: object, what: str, error: ErrorType = FileFormatError) -> Any:
    """``json.loads`` with one clear error for bad UTF-8, bad JSON or absurd nesting."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        return json.loads(text)
    except UnicodeDecodeError:
        raise fail(error, where, f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise fail(error, where, f"{what} is not valid JSON ({e})") from None
    except RecursionError:
        raise fail(error, where, f"{what} is JSON nested too deeply to read") from None


NUMERIC_KINDS = "iuf"  # signed, unsigned, floating; never complex, bool, text or objects


def numeric_array(value: Any, where: object, what: str, kinds: str = NUMERIC_KINDS,
                  error: ErrorType = FileFormatError) -> np.ndarray:  # fmt: skip
    """``value`` as a NumPy array of real numbers; ragged lists, text, complex numbers and
    Python objects are refused (an object array of plain numbers is converted)."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":  # plain numbers in an object array (None, text, lists are not)
            if not all(is_real(v) for v in arr.flat):
                raise TypeError("not numbers")
            arr = arr.astype(np.float64)
    except (ValueError, TypeError, OverflowError):
        raise fail(
            error, where, f"{what} is not a rectangular array of numbers (ragged or not numbers)"
        ) from None
    if arr.dtype.kind not in kinds:
        raise fail(error, where, f"{what} must hold real numbers, got dtype {arr.dtype}")
    return arr
