"""A camera tile's picture: the camera's newest processed frame with the tracked skeletons drawn
(the drawing of ``skelprompt score --render`` and of alert clips), as a JPEG."""

from __future__ import annotations

import threading

import numpy as np

from skelprompt.service.evidence import TrackedFrame, decode_jpeg, encode_jpeg
from skelprompt.tracks import clip_from_frames
from skelprompt.video.render import draw_frame


def draw_tracked(frame: TrackedFrame, layout: str) -> bytes:
    """``frame`` with its people's skeletons drawn, each labelled with its track id."""
    image = decode_jpeg(frame.jpeg)
    h, w = image.shape[:2]
    clip = clip_from_frames(
        [(frame.ids, frame.keypoints, frame.scores)], frame.keypoints.shape[1], 1, layout=layout, fps=None,
        img_shape=(h, w), source="tile", start_frame=frame.index,
    )  # fmt: skip
    if clip is not None:
        draw_frame(
            image,
            clip,
            0,
            np.full(clip.num_persons, np.nan),
            None,
            caption=f"{frame.time_s:6.1f} s",
            legend=False,
        )
    return encode_jpeg(image)


class TilePictures:
    """The drawn picture of each camera's newest frame, drawn once per frame."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, bytes]] = {}

    def picture(self, camera: str, frame: TrackedFrame, layout: str) -> bytes:
        with self._lock:
            hit = self._cache.get(camera)
            if hit is not None and hit[0] == frame.index:
                return hit[1]
        data = draw_tracked(frame, layout)
        with self._lock:
            self._cache[camera] = (frame.index, data)
        return data
