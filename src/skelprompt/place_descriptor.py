"""Where a person is in a fixed camera's image, and how that changes over a window.

The raw-pose descriptor (``pose_descriptor``) is centred on the clip and divided by body size,
so it cannot tell a person walking along the footpath from one in the middle of the road, nor
walking one way from the other (the detector even adds mirrored poses). A fixed camera's
normal footage says where people are and which way they go; this descriptor keeps that:
per frame the centre x / image width, centre y / image height and the height of the visible
joints / image height, resampled at ``PLACE_FRAMES`` times over the window (missing frames
filled over time). The person with the most visible joints stands for a multi-person clip.
"""

from __future__ import annotations

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError

PLACE_FRAMES = 8
PLACE_DIM = 3 * PLACE_FRAMES


def place_descriptor(clip: Clip, frames: int = PLACE_FRAMES) -> np.ndarray:
    """``[3 * frames]``: centre x, centre y and height of the person, as image fractions."""
    if clip.img_shape is None:
        raise ClipError(f"{clip.name}: the place descriptor needs clips in image pixels (img_shape)")
    h, w = clip.img_shape
    ok = np.asarray(clip.keypoint_score) > 0
    m = int(np.argmax(ok.sum((1, 2))))
    kp, ok = np.asarray(clip.keypoint[m], np.float64), ok[m]
    seen = np.flatnonzero(ok.any(-1))
    if seen.size == 0:
        return np.zeros(3 * frames)
    cnt = ok[seen].sum(-1)
    cx = (kp[seen, :, 0] * ok[seen]).sum(-1) / cnt
    cy = (kp[seen, :, 1] * ok[seen]).sum(-1) / cnt
    y = np.where(ok[seen], kp[seen, :, 1], np.nan)
    height = np.nanmax(y, -1) - np.nanmin(y, -1)
    at = np.linspace(0, clip.num_frames - 1, frames)
    return np.concatenate([np.interp(at, seen, v) for v in (cx / w, cy / h, height / h)])


def place_descriptors(clips: list[Clip], frames: int = PLACE_FRAMES) -> np.ndarray:
    """``[len(clips), 3 * frames]``."""
    return np.stack([place_descriptor(c, frames) for c in clips]) if clips else np.zeros((0, 3 * frames))
