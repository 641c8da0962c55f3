"""Write MP4 files that browsers play: H.264 (libx264) in yuv420p, index first, with PyAV.

OpenCV's PyPI wheels carry no H.264 encoder (their ``mp4v`` files do not play in Chrome),
while PyAV's wheels include libx264, so every video skelprompt writes goes through here.
"""

from __future__ import annotations

import os
from fractions import Fraction
from types import TracebackType
from typing import Any

import numpy as np

from skelprompt.errors import SkelpromptError

AV_INSTALL = "pip install av"
# x264 quality (lower = better, bigger) and speed; 23 and veryfast keep an 8 s 768x576 clip near 1 MB.
DEFAULT_CRF = 23
DEFAULT_PRESET = "veryfast"


def require_av() -> Any:
    """Import PyAV or raise a :class:`SkelpromptError` naming the pip command that installs it."""
    try:
        import av
    except ImportError:
        raise SkelpromptError(
            f"writing video needs PyAV: {AV_INSTALL} (or pip install 'skelprompt[video]')"
        ) from None
    return av


def frame_rate(fps: float) -> Fraction:
    """``fps`` as the exact fraction video containers store (25 -> 25, 29.97 -> 30000/1001)."""
    if not fps > 0:
        raise SkelpromptError(f"frame rate must be positive, got {fps}")
    ntsc = Fraction(round(fps * 1.001) * 1000, 1001)  # the NTSC rates 23.976, 29.97, 59.94, ...
    if abs(fps - round(fps)) > 0.005 and abs(fps - ntsc) < 0.005:
        return ntsc
    return Fraction(fps).limit_denominator(1001)


class H264Writer:
    """Append BGR ``uint8`` frames ``[H, W, 3]`` to an H.264 MP4 file; use as a context manager.

    yuv420p needs even sides, so a frame with an odd width or height is padded with one
    black column or row on the right or bottom (``size`` is the padded ``(height, width)``).
    The MP4's index (``moov``) is written first (``movflags=faststart``) so a browser can
    start playing before the whole file has arrived.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        size: tuple[int, int],
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
    ) -> None:
        av = require_av()
        h, w = size
        self.size = (h + h % 2, w + w % 2)
        self.frames = 0
        self._av = av
        # format="mp4" whatever the file name says: the name may be a temporary one
        self._container = av.open(os.fspath(path), mode="w", format="mp4", options={"movflags": "faststart"})
        try:
            self._stream = self._container.add_stream(
                "libx264", rate=frame_rate(fps), options={"crf": str(crf), "preset": preset}
            )
            self._stream.height, self._stream.width = self.size
            self._stream.pix_fmt = "yuv420p"
        except Exception:
            self._container.close()
            raise

    def write(self, image_bgr: np.ndarray) -> None:
        """Encode one frame (BGR ``uint8``, the size given at opening)."""
        h, w = self.size
        if image_bgr.shape[0] != h or image_bgr.shape[1] != w:
            image_bgr = np.pad(image_bgr, ((0, h - image_bgr.shape[0]), (0, w - image_bgr.shape[1]), (0, 0)))
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr), format="bgr24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode())
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif self._container is not None:  # failing anyway: do not flush, just release the file
            self._container.close()
            self._container = None
