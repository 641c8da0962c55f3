"""A bounded-queue frame source for live processing that may fall behind.

:class:`FrameStream` starts a reader thread that pushes frames into a
``queue.Queue(maxsize=k)``. When the queue is full the reader drops the *oldest* queued
frame (so the consumer always gets recent frames) and counts it in ``dropped``. The
consumer simply iterates. Works for a video file (optionally paced to its frame rate, to
simulate a camera), a webcam index and a stream URL::

    with FrameStream("clip.mp4", maxsize=4, realtime=True) as stream:
        for frame in stream:
            ...  # slow work; stream.dropped counts the frames skipped meanwhile
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from skelprompt.video.reader import Frame, VideoReader, VideoSource, open_video

_END = object()


class FrameStream:
    """Iterate frames of ``source`` through a queue of at most ``maxsize`` frames.

    ``realtime=True`` paces a file to its fps times ``speed`` (simulating a camera);
    otherwise a file is read as fast as it decodes. Cameras and URLs are live anyway. ``dropped`` counts frames discarded because
    the consumer was slow; ``produced`` counts frames read from the source. Opening errors
    (missing or corrupt file) are raised by the constructor; errors in the reader thread
    are re-raised in the consumer.
    """

    def __init__(
        self,
        source: VideoSource,
        maxsize: int = 8,
        realtime: bool = False,
        max_frames: int | None = None,
        speed: float = 1.0,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.reader: VideoReader = open_video(source, max_frames=max_frames)
        self.maxsize = maxsize
        self.realtime = realtime and not self.reader.live
        self.speed = speed
        self.dropped = 0
        self.produced = 0
        self.max_queued = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="skelprompt-frames", daemon=True)
        self._thread.start()

    @property
    def fps(self) -> float | None:
        return self.reader.fps

    @property
    def size(self) -> tuple[int, int]:
        return self.reader.size

    def _put(self, item: object) -> None:
        """Queue ``item``; when the queue is full, discard the oldest queued frame first."""
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                self.max_queued = max(self.max_queued, self._queue.qsize())
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                with self._lock:
                    self.dropped += 1

    def _run(self) -> None:
        t0 = time.monotonic()
        try:
            for frame in self.reader:
                if self._stop.is_set():
                    break
                if self.realtime and self.reader.fps:
                    due = t0 + frame.index / (self.reader.fps * self.speed)
                    delay = due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                self.produced += 1
                self._put(frame)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._error = e
        finally:
            self.reader.close()
            self._put(_END)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self._queue.get()
            if item is _END:
                if self._error is not None:
                    raise self._error
                return
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop the reader thread (frames still queued are discarded)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.reader.close()

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
