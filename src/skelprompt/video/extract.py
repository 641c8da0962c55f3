"""Video -> tracked skeleton :class:`~skelprompt.clip.Clip`.

:func:`extract_clip` runs a pose backend on every frame, links people across frames with
:class:`~skelprompt.video.tracking.Tracker` and returns one clip with ``M`` = number of
tracks: ``keypoint [M, T, V, 2]`` in pixels, ``keypoint_score [M, T, V]`` (0 in frames where
that person was not detected), ``track_ids [M]``, ``fps`` and ``img_shape (h, w)``.

A video in which nobody is detected raises :class:`NoPersonDetected` (a
:class:`SkelpromptError`): a clip with zero persons cannot exist, and silently returning
nothing would hide a wrong input or a too-small ``input_size``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.layouts import get_layout
from skelprompt.video.pose import Detections, PoseBackend
from skelprompt.video.reader import Frame, VideoSource, open_video
from skelprompt.video.tracking import Tracker, assemble_tracks


class NoPersonDetected(SkelpromptError):
    """The pose backend found nobody in any frame of the video."""


def iter_tracked(
    frames: Iterable[Frame], backend: PoseBackend, tracker: Tracker | None = None
) -> Iterator[tuple[Frame, Detections, np.ndarray]]:
    """Online: for each frame, its detections and their track ids (for live sources)."""
    tracker = tracker or Tracker()
    for frame in frames:
        det = backend(frame.image)
        ids = tracker.update(det.keypoints, det.scores, det.boxes, frame=frame.index)
        yield frame, det, ids


def extract_clip(
    video: VideoSource,
    backend: PoseBackend | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    tracker: Tracker | None = None,
    min_track_frames: int = 3,
    input_size: int = 256,
) -> Clip:
    """Estimate and track poses in ``video``; return one COCO-17 (backend layout) clip.

    ``backend`` defaults to :class:`~skelprompt.video.pose.MoveNetMultiPose` at
    ``input_size``. Tracks seen in fewer than ``min_track_frames`` frames (flicker, false
    detections) are dropped, unless that would drop all of them. Raises
    :class:`FileFormatError` for an unreadable video and :class:`NoPersonDetected` when
    nobody is found.
    """
    if backend is None:
        from skelprompt.video.pose import MoveNetMultiPose

        backend = MoveNetMultiPose(input_size=input_size)
    num_joints = get_layout(backend.layout).num_joints
    tracker = tracker or Tracker()
    per_frame: list[tuple[np.ndarray | None, np.ndarray, np.ndarray]] = []
    with open_video(video, max_frames=max_frames) as reader:
        fps, (h, w), name = reader.fps, reader.size, reader.name
        bar = tqdm(
            total=reader.expected_frames(), desc=f"pose {Path(name).name}", unit="frame", disable=not progress
        )
        try:
            for _frame, det, ids in iter_tracked(reader, backend, tracker):
                per_frame.append((ids, det.keypoints, det.scores))
                bar.update(1)
        finally:
            bar.close()
    num_frames = len(per_frame)
    built = assemble_tracks(per_frame, num_joints, min_track_frames)
    if built is None:
        raise NoPersonDetected(
            f"{name}: no person detected in {num_frames} frames "
            f"(backend {backend.name}; a larger input size finds smaller people)"
        )
    kp, sc, keep = built
    num_tracks = len({int(i) for ids, _, _ in per_frame for i in ids.tolist()})
    meta = {
        "pose_backend": backend.name,
        "tracks_dropped": num_tracks - len(keep),
        "min_track_frames": int(min_track_frames),
    }
    size = getattr(backend, "input_size", None)
    if size is not None:
        meta["pose_input_size"] = int(size)
    return Clip.create(
        kp,
        sc,
        layout=backend.layout,
        fps=fps,
        img_shape=(h, w),
        source=name,
        track_ids=keep,
        meta=meta,
    )
