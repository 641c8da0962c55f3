"""HR-ShanghaiTech and HR-Avenue: tracked 2D pose trajectories with per-frame test labels.

The "human-related" subsets of ShanghaiTech Campus and CUHK Avenue made with MPED-RNN (Morais
et al., CVPR 2019), as converted under ``<data root>/hr_vad`` (its SOURCE.md): one ``.npz`` per
video with ``person`` [N] (track id), ``frame`` [N] (0-based frame index) and ``keypoints``
[N, 17, 2] (COCO-17 joints in pixels, (0, 0) = missing), and for test videos a per-frame 0/1
mask ``test_frame_masks/<video>.npy``.

Each video becomes one tracked :class:`Clip` (``track_ids`` = the file's person numbers,
frames the video's timeline, score 1 for a present joint and 0 for a missing one), so the
footage machinery (``footage.windows``) cuts it into windows and persons as it does any
tracked video.

The training files' known quirk (SOURCE.md; TrajREC's ``fix_skeleton_data.py``): a track that
starts at frame 0 repeats its second pose as its third, with every later pose one frame late.
Where a training track starting at frame 0 shows exactly that (rows 1 and 2 identical) the
repeated row is dropped and the later rows moved one frame back, as TrajREC does; the count is
kept in ``clip.meta["start_duplicates_fixed"]``. Test files are left as published (their frame
numbers index the labels; they do not show the quirk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import check_shape, dataset_dir, fail, load_npz, require_file

FOLDER = "hr_vad"
NUM_JOINTS = 17
MAX_FRAMES = 1_000_000  # a frame index beyond this is a broken file, not a long video


@dataclass(frozen=True)
class HRSet:
    """One of the two data sets: its folder under ``hr_vad``, frame rate and frame size."""

    name: str
    folder: str
    fps: float
    img_shape: tuple[int, int]  # (height, width)


# frame rates of the source videos: ShanghaiTech Campus 24 fps, CUHK Avenue 25 fps
HR_SETS: dict[str, HRSet] = {
    "hr-shanghaitech": HRSet("hr-shanghaitech", "HR-ShanghaiTech", 24.0, (480, 856)),
    "hr-avenue": HRSet("hr-avenue", "HR-Avenue", 25.0, (360, 640)),
}


@dataclass
class HRVideo:
    """One video: its name, tracked clip (None: no person) and, for test videos, frame labels."""

    name: str
    clip: Clip | None
    labels: np.ndarray | None  # [T] 0/1 per frame (test videos)

    @property
    def num_frames(self) -> int:
        if self.labels is not None:
            return len(self.labels)
        return self.clip.num_frames if self.clip is not None else 0


def read_labels(path: Path) -> np.ndarray:
    """A test mask: a 1-D array of 0/1 per frame."""
    require_file(path)
    try:
        y = np.load(path, allow_pickle=False)
    except Exception as e:
        raise fail(path, f"cannot read as .npy ({type(e).__name__}: {e})") from None
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "biu":
        raise fail(path, f"frame mask must be a non-empty 1-D integer array, got {y.dtype} {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise fail(path, "frame mask holds values other than 0 and 1")
    return y.astype(np.int8)


def _fix_start_duplicate(frames: np.ndarray, kp: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """One track's rows with the training files' start quirk undone (module docstring)."""
    if len(frames) >= 3 and frames[0] == 0 and np.array_equal(kp[1], kp[2]):
        keep = np.r_[0, np.arange(2, len(frames))]
        shifted = frames[keep] - 1
        shifted[0] = 0
        return shifted, kp[keep], True
    return frames, kp, False


def read_trajectories(
    path: Path,
    hr: HRSet,
    num_frames: int | None = None,
    fix_start_duplicates: bool = False,
) -> Clip | None:
    """One video's trajectory file as a tracked clip (None when it holds no row).

    ``num_frames``: the video's length (a test mask's); frames beyond it are a file error.
    """
    a = load_npz(path, {"person": 1, "frame": 1, "keypoints": 3}, floats=("keypoints",))
    person, frame, kp = a["person"].astype(np.int64), a["frame"].astype(np.int64), a["keypoints"]
    check_shape(path, kp, (NUM_JOINTS, 2), "keypoints")
    n = len(kp)
    if len(person) != n or len(frame) != n:
        raise fail(path, f"person ({len(person)}), frame ({len(frame)}) and keypoints ({n}) differ in length")
    if n == 0:
        return None
    kp = kp.astype(np.float32)
    if not np.isfinite(kp).all():
        raise fail(path, "keypoints hold NaN or infinite values")
    if frame.min() < 0 or frame.max() >= MAX_FRAMES:
        raise fail(path, f"frame numbers must lie in 0..{MAX_FRAMES - 1}, found {frame.min()}..{frame.max()}")
    if num_frames is not None and frame.max() >= num_frames:
        raise fail(path, f"frame {frame.max()} is beyond the video's {num_frames} labelled frames")
    order = np.lexsort((frame, person))
    person, frame, kp = person[order], frame[order], kp[order]
    same = (person[1:] == person[:-1]) & (frame[1:] == frame[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise fail(path, f"person {person[i]} appears twice in frame {frame[i]}")
    ids, starts = np.unique(person, return_index=True)
    ends = np.r_[starts[1:], n]
    fixed = 0
    tracks = []
    for lo, hi in zip(starts, ends, strict=True):
        f, k = frame[lo:hi], kp[lo:hi]
        if fix_start_duplicates:
            f, k, did = _fix_start_duplicate(f, k)
            fixed += int(did)
        tracks.append((f, k))
    length = num_frames if num_frames is not None else int(frame.max()) + 1
    keypoint = np.zeros((len(ids), length, NUM_JOINTS, 2), np.float32)
    for m, (f, k) in enumerate(tracks):
        keypoint[m, f] = k
    score = (keypoint != 0).any(-1).astype(np.float32)  # (0, 0) marks a missing joint
    if not score.any():
        raise fail(path, "every joint is missing ((0, 0) everywhere)")
    clip = Clip(
        keypoint=keypoint,
        keypoint_score=score,
        layout="coco17",
        fps=hr.fps,
        img_shape=hr.img_shape,
        source=str(path),
        frame_dir=path.stem,
        track_ids=ids.astype(np.int64),
        meta={"start_duplicates_fixed": fixed},
    )
    return clip.validate()


def set_dir(data_root: str | Path, hr: HRSet) -> Path:
    return dataset_dir(Path(data_root) / FOLDER, hr.folder)


def video_names(data_root: str | Path, hr: HRSet, split: str) -> list[str]:
    """The videos of a split ("train" or "test"), sorted; test videos are those with a mask."""
    d = set_dir(data_root, hr)
    if split == "train":
        return sorted(p.stem for p in (d / "train").glob("*.npz"))
    if split == "test":
        return sorted(p.stem for p in (d / "test_frame_masks").glob("*.npy"))
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def load_video(data_root: str | Path, hr: HRSet, split: str, name: str) -> HRVideo:
    """One video of a split. A test video with a mask but no trajectory file has no clip."""
    d = set_dir(data_root, hr)
    if split == "train":
        return HRVideo(
            name, read_trajectories(d / "train" / f"{name}.npz", hr, fix_start_duplicates=True), None
        )
    labels = read_labels(d / "test_frame_masks" / f"{name}.npy")
    path = d / "test" / f"{name}.npz"
    clip = read_trajectories(path, hr, num_frames=len(labels)) if path.exists() else None
    return HRVideo(name, clip, labels)


def load_split(data_root: str | Path, hr: HRSet, split: str, limit: int | None = None) -> list[HRVideo]:
    """Every video of a split (the first ``limit`` with ``limit``)."""
    return [load_video(data_root, hr, split, n) for n in video_names(data_root, hr, split)[:limit]]
