"""Video -> tracked skeleton :class:`~skelprompt.clip.Clip`.

:func:`extract_clip` runs a pose backend on every frame, links people across frames with
:class:`~skelprompt.tracks.Tracker` and returns one clip with ``M`` = number of
tracks: ``keypoint [M, T, V, 2]`` in pixels, ``keypoint_score [M, T, V]`` (0 in frames where
that person was not detected), ``track_ids [M]``, ``fps`` and ``img_shape (h, w)``.

A video in which nobody is detected raises :class:`NoPersonDetected` (a
:class:`SkelpromptError`): a clip with zero persons cannot exist, and silently returning
nothing would hide a wrong input or a too-small ``input_size``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.layouts import get_layout
from skelprompt.tracks import FramePeople, Tracker, clip_from_frames
from skelprompt.video.pose import DEFAULT_INPUT_SIZE, Detections, PoseBackend, get_backend
from skelprompt.video.reader import Frame, VideoSource, open_video

# Tracks seen in fewer frames than this are flicker or false detections.
DEFAULT_MIN_TRACK_FRAMES = 3


class NoPersonDetected(SkelpromptError):
    """The pose backend found nobody in any frame of the video."""


def iter_tracked(
    frames: Iterable[Frame],
    backend: PoseBackend,
    tracker: Tracker | None = None,
    timer: Callable[[str, float], float] | None = None,
) -> Iterator[tuple[Frame, Detections, np.ndarray]]:
    """Online: for each frame, its detections and their track ids (for live sources).
    ``timer(stage, since)`` is told when the "pose" and "tracking" stages of a frame began,
    just as each ends."""
    tracker = tracker or Tracker()
    for frame in frames:
        t = time.perf_counter()
        det = backend(frame.image)
        if timer is not None:
            t = timer("pose", t)
        ids = tracker.update(det.keypoints, det.scores, det.boxes, frame=frame.index)
        if timer is not None:
            timer("tracking", t)
        yield frame, det, ids


def extract_clip(
    video: VideoSource,
    backend: PoseBackend | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    tracker: Tracker | None = None,
    min_track_frames: int = DEFAULT_MIN_TRACK_FRAMES,
    input_size: int = DEFAULT_INPUT_SIZE,
) -> Clip:
    """Estimate and track poses in ``video``; return one COCO-17 (backend layout) clip.

    ``backend`` defaults to :func:`~skelprompt.video.pose.get_backend`'s default at
    ``input_size``. Tracks seen in fewer than ``min_track_frames`` frames (flicker, false
    detections) are dropped, unless that would drop all of them. Raises
    :class:`FileFormatError` for an unreadable video and :class:`NoPersonDetected` when
    nobody is found.
    """
    if backend is None:
        backend = get_backend(input_size=input_size)
    num_joints = get_layout(backend.layout).num_joints
    tracker = tracker or Tracker()
    per_frame: list[FramePeople] = []
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
    clip = clip_from_frames(
        per_frame, num_joints, min_track_frames, layout=backend.layout, fps=fps, img_shape=(h, w),
        source=name, meta={"pose_backend": backend.name},
    )  # fmt: skip
    if clip is None:
        raise NoPersonDetected(
            f"{name}: no person detected in {len(per_frame)} frames "
            f"(backend {backend.name}; a larger input size finds smaller people)"
        )
    num_tracks = len({int(i) for ids, _, _ in per_frame for i in np.asarray(ids).tolist()})
    clip.meta["tracks_dropped"] = num_tracks - clip.num_persons
    clip.meta["min_track_frames"] = int(min_track_frames)
    size = getattr(backend, "input_size", None)
    if size is not None:
        clip.meta["pose_input_size"] = int(size)
    return clip
