"""An alerting window's skeletons as bytes for the database (NumPy ``.npz``, never pickled),
and back; what an operator's verdict on the alert later adds to the detector."""

from __future__ import annotations

import io
import json

import numpy as np

from skelprompt.clip import Clip
from skelprompt.errors import ClipError


def clip_bytes(clip: Clip) -> bytes:
    meta = {
        "layout": clip.layout, "fps": clip.fps, "img_shape": list(clip.img_shape) if clip.img_shape else None,
        "source": clip.source, "start_frame": int(clip.start_frame),
    }  # fmt: skip
    buf = io.BytesIO()
    ids = clip.track_ids if clip.track_ids is not None else np.arange(clip.num_persons)
    np.savez_compressed(
        buf, keypoint=clip.keypoint.astype(np.float32), keypoint_score=clip.keypoint_score.astype(np.float32),
        track_ids=np.asarray(ids, np.int64), meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
    )  # fmt: skip
    return buf.getvalue()


def clip_from_bytes(data: bytes, where: str) -> Clip:
    """The clip :func:`clip_bytes` wrote; a ClipError naming ``where`` for anything else."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            kp, sc, ids = z["keypoint"], z["keypoint_score"], z["track_ids"]
            meta = json.loads(bytes(z["meta"]).decode())
        clip = Clip(
            kp.astype(np.float64),
            sc.astype(np.float64),
            str(meta["layout"]),
            fps=meta["fps"],
            img_shape=tuple(meta["img_shape"]) if meta["img_shape"] else None,
            source=meta["source"],
            track_ids=ids,
            start_frame=int(meta["start_frame"]),
        ).validate()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ClipError(f"{where}: the stored window is unreadable ({e})") from None
    return clip
