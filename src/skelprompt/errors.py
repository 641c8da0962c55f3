"""Errors that skelprompt raises for bad input. Each message names the file and the problem."""

from __future__ import annotations


class SkelpromptError(Exception):
    """Base class: an error the user can act on (shown without a traceback by the CLI)."""


class LayoutError(SkelpromptError):
    """An unknown joint layout or a joint that a layout does not have."""


class ClipError(SkelpromptError):
    """A clip whose arrays are malformed (shapes, NaN, empty, all joints missing)."""


class FileFormatError(SkelpromptError):
    """A file that cannot be read as the format it claims to be."""


class ModelError(SkelpromptError):
    """A model or detector file that is missing, malformed or incompatible."""


class ModelConfigError(ModelError, ValueError):
    """A model configuration with a field of the wrong type or out of its sane range.

    Also a ``ValueError`` so that callers that wrap ``ValueError`` with the file name keep working.
    """


class UnsafePickleError(FileFormatError):
    """A pickle that names a Python object skelprompt does not allow (nothing was run)."""


class WriteError(SkelpromptError):
    """An output file that cannot be written (read-only folder, disk full, path is a folder)."""


def in_file(path: object, message: str) -> str:
    """Prefix ``message`` with the file it is about, when there is one."""
    return f"{path}: {message}" if path else message
