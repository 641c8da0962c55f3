"""The outputs of an archive run.

JSONL (``--jsonl``): a head line (what scored: detector, prompts, settings), then one line per
finished video, written as it finishes: the video's entry as in ``--json``'s ``videos``, or
``{"source", "error", "attempts"}``. Rerun with the same file and the videos already scored
in it are skipped; videos that failed are tried again (their new line comes later and wins).

JSON (``--json``): the ``videos`` form of ``result.schema.json``, every video given in input
order, with ``errors`` listing the videos that could not be scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from skelprompt.errors import SkelpromptError
from skelprompt.footage.results import finite_json

Entry = dict[str, Any]


def video_key(video: str) -> str:
    """What identifies a video across runs (and working folders): its resolved path."""
    return str(Path(video).resolve())


def is_error(entry: Entry) -> bool:
    return "error" in entry


class JsonlLog:
    """An append-only JSONL of finished videos; what an earlier run left in it is kept."""

    def __init__(self, path: Path, head: Entry) -> None:
        self.path = path
        self.head = finite_json(head)
        self.done: dict[str, Entry] = {}  # video key -> its last entry
        self._file: IO[str] | None = None
        if path.exists() and path.stat().st_size > 0:
            self._read_earlier()

    def _read_earlier(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as e:
            raise SkelpromptError(
                f"{self.path}: cannot read it as a JSONL of `skelprompt score` ({e})"
            ) from None
        # a run killed while writing leaves a partial last line: dropped, that video is redone
        complete = lines[:-1]
        if lines[-1]:
            with self.path.open("r+", encoding="utf-8") as f:
                f.truncate(sum(len(line.encode()) + 1 for line in complete))
        entries = [self._parse(n, line) for n, line in enumerate(complete, start=1)]
        if not entries:
            return
        self._check_head(entries[0])
        for entry in entries[1:]:
            self.done[video_key(str(entry.get("source")))] = entry

    def _parse(self, number: int, line: str) -> Entry:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise SkelpromptError(
                f"{self.path}:{number}: not a JSON line of `skelprompt score --jsonl`"
            ) from None
        if not isinstance(entry, dict) or (number > 1 and "source" not in entry):
            raise SkelpromptError(f"{self.path}:{number}: not a line of `skelprompt score --jsonl`")
        return entry

    def _check_head(self, earlier: Entry) -> None:
        if "schema_version" not in earlier or "detector" not in earlier:
            raise SkelpromptError(f"{self.path}:1: not the head line of a `skelprompt score --workers` JSONL")
        for key in sorted(set(earlier) | set(self.head)):
            a, b = _comparable(key, earlier.get(key)), _comparable(key, self.head.get(key))
            if a != b:
                raise SkelpromptError(
                    f"{self.path}: written by a run with another {key} ({a} there, {b} now); "
                    "give another --jsonl to score with these settings"
                )

    def append(self, entry: Entry) -> None:
        """Write one finished video at once (flushed), so a killed run loses nothing done."""
        if self._file is None:
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            if fresh:
                self._write(self.head)
        self._write(entry)

    def _write(self, obj: Entry) -> None:
        assert self._file is not None
        self._file.write(json.dumps(finite_json(obj), allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _comparable(key: str, value: Any) -> Any:
    """The part of a head field that must match between runs sharing one JSONL: not the
    skelprompt version, nor the path the detector was given by (its checksum counts)."""
    if key == "skelprompt_version":
        return None
    if key == "detector" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "path"}
    return value


def merged_json(head: Entry, videos: list[str], entries: dict[str, Entry]) -> Entry:
    """The ``--json`` document: ``videos`` in input order, failures under ``errors``."""
    ordered = [entries[video_key(v)] for v in videos if video_key(v) in entries]
    scored = [e for e in ordered if not is_error(e)]
    return finite_json(
        {
            **{k: v for k, v in head.items() if k in ("schema_version", "skelprompt_version", "detector")},
            "prompts": scored[0]["prompts"] if scored else head.get("prompts", []),
            "normal_prompts": scored[0]["normal_prompts"] if scored else head.get("normal_prompts", []),
            "videos": scored,
            "errors": [e for e in ordered if is_error(e)],
        }
    )
