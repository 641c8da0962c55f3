"""The videos of an archive run: video files, folders (every video below, sorted) and list
files (``@list.txt``: one path a line, relative to the list's folder; blank lines and lines
starting with ``#`` skipped). Each video once, in the order given."""

from __future__ import annotations

from pathlib import Path

from skelprompt.errors import SkelpromptError
from skelprompt.footage.sources import VIDEO_SUFFIXES, is_video

LIST_PREFIX = "@"  # `@videos.txt`: the videos listed in that file


def archive_videos(args: list[str]) -> list[str]:
    """The videos that ``args`` name, each once (the first time it is named). Raises
    :class:`SkelpromptError` naming the first argument (or list line) that is missing, not a
    video, unreadable or a folder without videos."""
    videos: list[str] = []
    seen: set[Path] = set()
    for arg in args:
        for video in _expand(arg):
            key = Path(video).resolve()
            if key not in seen:
                seen.add(key)
                videos.append(video)
    return videos


def _expand(arg: str) -> list[str]:
    if arg.startswith(LIST_PREFIX):
        return [v for line in _list_lines(Path(arg[len(LIST_PREFIX) :])) for v in _expand_path(*line)]
    return _expand_path(arg, None)


def _list_lines(path: Path) -> list[tuple[str, str]]:
    """(path, where it was named) for each entry of a list file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SkelpromptError(f"{path}: list file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SkelpromptError(f"{path}: cannot read the list file ({e})") from None
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            lines.append((str(path.parent / entry), f"{path}:{number}"))
    if not lines:
        raise SkelpromptError(f"{path}: the list file names no video")
    return lines


def _expand_path(arg: str, named_at: str | None) -> list[str]:
    where = f"{named_at}: " if named_at else ""
    p = Path(arg)
    if p.is_dir():
        found = [str(f) for f in sorted(p.rglob("*")) if f.suffix.lower() in VIDEO_SUFFIXES and f.is_file()]
        if not found:
            raise SkelpromptError(f"{where}{arg}: no video files in this folder")
        return found
    if not p.exists():
        raise SkelpromptError(f"{where}{arg}: no such file")
    if not is_video(arg):
        suffixes = " ".join(VIDEO_SUFFIXES)
        raise SkelpromptError(
            f"{where}{arg}: not a video file (expected one of {suffixes}, a folder or @LIST)"
        )
    return [arg]
