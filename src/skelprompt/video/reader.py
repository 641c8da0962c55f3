"""Open a video file, a webcam index or a stream URL and yield its frames.

``open_video(source)`` returns a :class:`VideoReader`; iterate it for :class:`Frame` objects
(``index``, ``time`` in seconds, ``image`` a BGR ``uint8`` array ``[H, W, 3]``). A file that
is missing, is not a video or has no decodable frame raises :class:`FileFormatError`
naming the file. A file whose frames end well before the count its header gives (truncated
or damaged) is read as far as it goes, with a one-line warning on stderr.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.errors import FileFormatError, SkelpromptError

log = logging.getLogger(__name__)

VideoSource = str | int | os.PathLike[str]

CV2_INSTALL = "pip install opencv-python-headless"
# frames a file may end short of its header's count without a warning: some containers'
# counts are estimates (from duration x fps) that miss by a frame or two
FRAME_COUNT_SLACK = 2


def require_cv2() -> Any:
    """Import OpenCV or raise a :class:`SkelpromptError` naming the pip command that installs it."""
    try:
        import cv2
    except ImportError:
        raise SkelpromptError(
            f"reading video needs OpenCV: {CV2_INSTALL} (or pip install 'skelprompt[video]')"
        ) from None
    return cv2


@dataclass
class Frame:
    """One decoded frame: its index in the source, its time in seconds and the BGR image."""

    index: int
    time: float
    image: np.ndarray


def parse_source(source: VideoSource) -> tuple[str, str | int]:
    """Classify ``source`` as ``("camera", index)``, ``("url", url)`` or ``("file", path)``."""
    if isinstance(source, bool):
        raise SkelpromptError(f"not a video source: {source!r}")
    if isinstance(source, int):
        return "camera", source
    s = os.fspath(source)
    if s.isdigit():
        return "camera", int(s)
    if "://" in s:
        return "url", s
    return "file", s


class VideoReader:
    """Frames of one video source. Use as an iterator and (optionally) a context manager.

    ``fps`` is the source's frame rate (``None`` when the source does not say), ``size`` is
    ``(height, width)``, ``frame_count`` is the number of frames a file claims (``None`` for
    cameras and streams). For files, ``Frame.time`` is ``index / fps``; for live sources it
    is the wall-clock time since opening.
    """

    def __init__(self, source: VideoSource, max_frames: int | None = None) -> None:
        cv2 = require_cv2()
        self.kind, target = parse_source(source)
        self.name = str(target) if self.kind != "camera" else f"camera {target}"
        if self.kind == "file":
            p = Path(str(target))
            if not p.exists():
                raise FileFormatError(f"{p}: no such video file")
            if p.is_dir():
                raise FileFormatError(f"{p}: is a folder, not a video file")
            try:
                with open(p, "rb") as fh:
                    fh.read(1)
            except OSError as e:
                raise FileFormatError(f"{p}: cannot read ({e.strerror or e})") from None
            if p.stat().st_size == 0:
                raise FileFormatError(f"{p}: empty file, not a video")
        self.max_frames = max_frames
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            what = "video file (unknown or corrupt format)" if self.kind == "file" else "video source"
            raise FileFormatError(f"{self.name}: cannot open as a {what}")
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise FileFormatError(f"{self.name}: no decodable video frame (corrupt or unsupported video)")
        self._first: np.ndarray | None = first
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: float | None = fps if 0.0 < fps < 1000.0 else None
        self.size: tuple[int, int] = (int(first.shape[0]), int(first.shape[1]))
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = n if self.kind == "file" and n > 0 else None
        self._t0 = time.monotonic()
        self._index = 0
        self.frames_missing = 0  # of the header's count, once a file has ended short of it

    @property
    def live(self) -> bool:
        """True for cameras and network streams (frames arrive in real time)."""
        return self.kind != "file"

    def expected_frames(self) -> int | None:
        """How many frames iteration will yield, when known."""
        if self.frame_count is None:
            return self.max_frames
        return self.frame_count if self.max_frames is None else min(self.frame_count, self.max_frames)

    def __iter__(self) -> Iterator[Frame]:
        while self.max_frames is None or self._index < self.max_frames:
            if self._first is not None:
                img, self._first = self._first, None
            else:
                ok, img = self._cap.read()
                if not ok or img is None:
                    self._warn_if_truncated()
                    break
            if self.live or not self.fps:
                t = time.monotonic() - self._t0
            else:
                t = self._index / self.fps
            yield Frame(self._index, t, img)
            self._index += 1
        self.close()

    def _warn_if_truncated(self) -> None:
        """At the end of a file: note (``frames_missing``) and warn of the frames its header
        promised that it did not give."""
        expected = self.expected_frames()
        if expected is None or self.live:
            return
        missing = self.frames_missing = max(0, expected - self._index)
        if missing > max(FRAME_COUNT_SLACK, self._index // 100):
            log.warning(
                f"warning: {self.name}: the video ends after {self._index} of the "
                f"{self._index + missing} frames its header announces (truncated or damaged file); "
                "only the frames read are used"
            )

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_video(source: VideoSource, max_frames: int | None = None) -> VideoReader:
    """Open ``source``: a video file path, a webcam index (``0`` or ``"0"``) or a URL."""
    return VideoReader(source, max_frames=max_frames)


def iter_frames(source: VideoSource, max_frames: int | None = None) -> Iterator[Frame]:
    """Shorthand: the frames of ``source`` (the reader is closed when iteration ends)."""
    with open_video(source, max_frames=max_frames) as reader:
        yield from reader
