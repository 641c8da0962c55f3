"""People across frames: link per-frame detections into tracks and build the tracked clip.

numpy and scipy only (no OpenCV, no torch), so the file readers of ``io/`` and the video
side of ``video/`` share it.

Tracks are linked by Hungarian assignment on box IoU and joint distance.

Each live track keeps its last box, keypoints and a smoothed velocity of its box centre.
For a new frame the cost between track ``i`` and detection ``j`` is::

    cost = iou_weight * (1 - IoU(predicted box_i, box_j))
         + (1 - iou_weight) * min(1, mean joint distance / track height)

(joints counted when both sides see them with confidence >= ``joint_threshold``; with no
shared joint the box-centre distance is used). :func:`scipy.optimize.linear_sum_assignment`
picks the cheapest one-to-one matching; pairs costlier than ``max_cost`` stay unmatched.
Unmatched detections start new tracks; a track unmatched for more than ``max_age`` frames
is dropped (a person missing for up to ``max_age`` frames keeps their id). Ids are
never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelprompt.clip import Clip

# Frames a person may go unseen and keep their track id.
DEFAULT_MAX_AGE = 10

# One frame's people: (track ids [N] or None when unknown, keypoints [N, V, 2], scores [N, V]).
FramePeople = tuple[np.ndarray | None, np.ndarray, np.ndarray]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[len(a), len(b)]`` of boxes given as x1, y1, x2, y2."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


@dataclass
class Track:
    """One tracked person: its id and latest state."""

    id: int
    box: np.ndarray  # [4] x1 y1 x2 y2
    keypoints: np.ndarray  # [V, 2]
    scores: np.ndarray  # [V]
    first_frame: int
    last_frame: int
    hits: int = 1
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre px/frame

    def predicted_shift(self, frame: int) -> np.ndarray:
        return self.velocity * (frame - self.last_frame)


class Tracker:
    """Online multi-person tracker. Call :meth:`update` once per frame, in order."""

    def __init__(
        self,
        max_age: int = DEFAULT_MAX_AGE,
        max_cost: float = 0.75,
        iou_weight: float = 0.5,
        joint_threshold: float = 0.2,
        velocity_smoothing: float = 0.5,
    ) -> None:
        if max_age < 0:
            raise ValueError("max_age must be >= 0")
        self.max_age = max_age
        self.max_cost = max_cost
        self.iou_weight = iou_weight
        self.joint_threshold = joint_threshold
        self.velocity_smoothing = velocity_smoothing
        self.tracks: list[Track] = []
        self.frame = -1
        self._next_id = 0
        # scipy.optimize takes seconds to import: load it when a tracker is made, not when this
        # module is (the CLI imports it for its defaults) nor inside a frame loop.
        from scipy.optimize import linear_sum_assignment

        self._match = linear_sum_assignment

    def reset(self) -> None:
        self.tracks = []
        self.frame = -1
        self._next_id = 0

    def cost_matrix(
        self, keypoints: np.ndarray, scores: np.ndarray, boxes: np.ndarray, frame: int
    ) -> np.ndarray:
        """Cost ``[num tracks, num detections]`` in [0, 1] (lower = more alike)."""
        n_t, n_d = len(self.tracks), len(boxes)
        if n_t == 0 or n_d == 0:
            return np.zeros((n_t, n_d))
        shifts = np.stack([t.predicted_shift(frame) for t in self.tracks])
        pbox = np.stack([t.box for t in self.tracks]) + np.concatenate([shifts, shifts], axis=1)
        iou = box_iou(pbox, boxes)
        tk = np.stack([t.keypoints for t in self.tracks]) + shifts[:, None, :]  # [Nt, V, 2]
        ts = np.stack([t.scores for t in self.tracks])  # [Nt, V]
        dist = np.linalg.norm(tk[:, None] - keypoints[None], axis=-1)  # [Nt, Nd, V]
        both = (ts[:, None] >= self.joint_threshold) & (scores[None] >= self.joint_threshold)
        n_both = both.sum(-1)
        mean_joint = np.where(n_both > 0, (dist * both).sum(-1) / np.maximum(n_both, 1), np.nan)
        tc = (pbox[:, :2] + pbox[:, 2:]) / 2
        dc = (boxes[:, :2] + boxes[:, 2:]) / 2
        centre = np.linalg.norm(tc[:, None] - dc[None], axis=-1)
        d = np.where(np.isnan(mean_joint), centre, mean_joint)
        height = np.maximum(pbox[:, 3] - pbox[:, 1], 1.0)[:, None]
        kcost = np.minimum(1.0, d / height)
        return self.iou_weight * (1.0 - iou) + (1.0 - self.iou_weight) * kcost

    def update(
        self,
        keypoints: np.ndarray,
        scores: np.ndarray,
        boxes: np.ndarray,
        frame: int | None = None,
    ) -> np.ndarray:
        """Assign the detections of the next frame to tracks; return their track ids ``[N]``."""
        frame = self.frame + 1 if frame is None else int(frame)
        self.frame = frame
        keypoints = np.asarray(keypoints, np.float64)
        scores = np.asarray(scores, np.float64)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        n = len(boxes)
        ids = np.full(n, -1, dtype=np.int64)
        # forget tracks missed in more than max_age frames (also across skipped frame numbers)
        self.tracks = [t for t in self.tracks if frame - t.last_frame - 1 <= self.max_age]
        cost = self.cost_matrix(keypoints, scores, boxes, frame)
        if cost.size:
            rows, cols = self._match(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= self.max_cost:
                    self._assign(self.tracks[r], keypoints[c], scores[c], boxes[c], frame)
                    ids[c] = self.tracks[r].id
        for j in np.flatnonzero(ids < 0):
            t = Track(self._next_id, boxes[j].copy(), keypoints[j].copy(), scores[j].copy(), frame, frame)
            self._next_id += 1
            self.tracks.append(t)
            ids[j] = t.id
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.max_age]
        return ids

    def _assign(self, t: Track, kp: np.ndarray, sc: np.ndarray, box: np.ndarray, frame: int) -> None:
        gap = max(1, frame - t.last_frame)
        shift = ((box[:2] + box[2:]) - (t.box[:2] + t.box[2:])) / 2 / gap
        a = self.velocity_smoothing
        t.velocity = shift if t.hits == 1 else a * t.velocity + (1 - a) * shift
        t.box, t.keypoints, t.scores = box.copy(), kp.copy(), sc.copy()
        t.last_frame = frame
        t.hits += 1


def track_detections(
    detections: list[tuple[np.ndarray, np.ndarray, np.ndarray]], **tracker_kwargs: float
) -> list[np.ndarray]:
    """Offline convenience: track ``[(keypoints, scores, boxes), ...]`` per frame; ids per frame."""
    tracker = Tracker(**tracker_kwargs)  # type: ignore[arg-type]
    return [tracker.update(k, s, b, frame=i) for i, (k, s, b) in enumerate(detections)]


def boxes_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, min_score: float = 1e-6) -> np.ndarray:
    """Boxes ``[N, 4]`` (x1 y1 x2 y2) around each person's present joints, padded by 10%."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, *np.shape(keypoints)[-2:])
    sc = np.asarray(scores, np.float64).reshape(kp.shape[:2])
    out = np.zeros((kp.shape[0], 4))
    for i in range(kp.shape[0]):
        vis = sc[i] >= min_score
        if not vis.any():
            continue
        lo, hi = kp[i, vis].min(0), kp[i, vis].max(0)
        pad = 0.1 * max(hi[1] - lo[1], hi[0] - lo[0], 1.0)
        out[i] = [lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad]
    return out


def assemble_tracks(
    frames: Sequence[FramePeople],
    num_joints: int,
    min_track_frames: int = 1,
    tracker: Tracker | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per-frame people -> ``(keypoint [M,T,V,2], keypoint_score [M,T,V], track_ids [M])``.

    ``frames[t] = (ids or None, keypoints [N, V, 2], scores [N, V])``. When every frame has
    ids they are used as given; otherwise the people are linked with ``tracker`` (boxes
    around their joints). Tracks seen in fewer than ``min_track_frames`` frames are dropped
    unless that would drop all. Returns ``None`` when there is no person at all.
    """
    num_frames = len(frames)
    if any(ids is None for ids, _, _ in frames):
        tracker = tracker or Tracker()
        linked: list[FramePeople] = []
        for t, (_, k, s) in enumerate(frames):
            k = np.asarray(k, np.float64).reshape(-1, num_joints, 2)
            s = np.asarray(s, np.float64).reshape(-1, num_joints)
            linked.append((tracker.update(k, s, boxes_from_keypoints(k, s), frame=t), k, s))
        frames = linked
    counts: dict[int, int] = {}
    for ids, _, _ in frames:
        for i in np.asarray(ids).reshape(-1).tolist():
            counts[int(i)] = counts.get(int(i), 0) + 1
    if not counts:
        return None
    keep = sorted(i for i, c in counts.items() if c >= min(min_track_frames, num_frames)) or sorted(counts)
    row = {tid: m for m, tid in enumerate(keep)}
    kp = np.zeros((len(keep), num_frames, num_joints, 2), np.float32)
    sc = np.zeros((len(keep), num_frames, num_joints), np.float32)
    for t, (ids, k, s) in enumerate(frames):
        k = np.asarray(k).reshape(-1, num_joints, 2)
        s = np.asarray(s).reshape(-1, num_joints)
        for j, tid in enumerate(np.asarray(ids).reshape(-1).tolist()):
            m = row.get(int(tid))
            if m is None:
                continue
            if sc[m, t].any():  # the same id twice in one frame: keep the more confident one
                if s[j].mean() <= sc[m, t].mean():
                    continue
            kp[m, t], sc[m, t] = k[j], s[j]
    return kp, sc, np.asarray(keep, np.int64)


def clip_from_frames(
    frames: Sequence[FramePeople],
    num_joints: int,
    min_track_frames: int = 1,
    *,
    layout: str,
    fps: float | None,
    img_shape: tuple[int, int] | None,
    source: str,
    start_frame: int = 0,
    meta: dict[str, Any] | None = None,
    tracker: Tracker | None = None,
) -> Clip | None:
    """Per-frame people -> one tracked :class:`Clip` (``None`` when there is no person at all).

    The tracks are built by :func:`assemble_tracks` (see there for ``min_track_frames`` and
    ``tracker``); the clip's ``track_ids`` are the kept track ids.
    """
    built = assemble_tracks(frames, num_joints, min_track_frames, tracker)
    if built is None:
        return None
    kp, sc, track_ids = built
    return Clip.create(
        kp,
        sc,
        layout=layout,
        fps=fps,
        img_shape=img_shape,
        source=source,
        track_ids=track_ids,
        start_frame=int(start_frame),
        meta=meta if meta is not None else {},
    )
