"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A write that fails (read-only folder, a parent that is a file, the target is a folder, disk
full) raises :class:`~skelprompt.errors.WriteError` naming the target; the temporary file is
removed and an existing target is left as it was.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from skelprompt.errors import WriteError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large for this file system or limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
}


def write_error(target: object, e: OSError | Exception) -> WriteError:
    """A one-line error for an error met while writing ``target``: an ``OSError``, or a library
    error whose text carries one (safetensors says "... (os error 28)")."""
    code = e.errno if isinstance(e, OSError) else None
    if code is None and (m := re.search(r"os error (\d+)", str(e))):
        code = int(m[1])
    fallback = (e.strerror if isinstance(e, OSError) else None) or str(e)
    return WriteError(f"{target}: cannot write ({_REASONS.get(code or 0) or fallback})")


def _prepare(target: Path) -> None:
    """Make the target's folder; refuse a target that is a folder, or a parent that is a file."""
    if target.is_dir():
        raise WriteError(f"{target}: cannot write (it is an existing folder)")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(f"{target}: cannot write ({parent} is a file, not a folder)")
            break
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(target, e) from None


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On error the temporary file is removed and the previous ``path`` (if any) is untouched;
    an ``OSError`` (from creating, writing or renaming) becomes a :class:`WriteError`.
    """
    target = Path(path)
    _prepare(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    except OSError as e:
        raise write_error(target, e) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_path, target)
    except OSError as e:
        if e.filename is not None and str(e.filename) not in (str(tmp_path), str(target)):
            raise  # about another file (e.g. an input read inside the block): not ours to rename
        raise write_error(target, e) from None
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path, suffix=suffix) as tmp:
        writer(tmp)


def make_folder(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p`` with a :class:`WriteError` naming the folder when it cannot be made."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise WriteError(f"{folder}: cannot make a folder here (a file has this name)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(folder, e) from None
    return folder
