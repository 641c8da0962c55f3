"""K3HI Kinect interactions (InterFormer release): actor A and reactor B, 15 joints.

``Skeletons/<class>/<id>/skeleton_{A,B}.mat`` with variable ``curve_B`` of shape (45, T),
coordinate-major (rows 0-14 x, 15-29 y, 30-44 z). x, y look image-normalised (y down), as in
SBU, so ``keypoint = (640 x, 480 y)``; z (depth, metres) is not kept. Person 0 = actor A.
Left/right of the joint pairs is not verified by the source (see layouts ``k3hi15``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import clip_from_2d, dataset_dir, fail, read_text

FOLDER = "k3hi_interformer"
FPS = 15.0  # not documented by the release; Kinect interaction sets are usually sampled at 15 fps
CLASS_NAMES = {"shaking": "shaking hands"}
SCALE = np.array([640.0, 480.0], dtype=np.float32)


def read_mat(path: Path) -> np.ndarray:
    """One ``skeleton_?.mat`` -> float32 [T, 15, 3]."""
    import scipy.io

    if not path.is_file():
        raise fail(path, "file not found")
    try:
        m = scipy.io.loadmat(str(path))
    except Exception as e:
        raise fail(path, f"cannot read as a MATLAB .mat file ({type(e).__name__}: {e})") from None
    if "curve_B" not in m:
        raise fail(path, f"no variable 'curve_B' (found {sorted(k for k in m if not k.startswith('__'))})")
    c = np.asarray(m["curve_B"])
    if c.ndim != 2 or c.shape[0] != 45 or c.shape[1] == 0 or not np.issubdtype(c.dtype, np.number):
        raise fail(path, f"'curve_B' must be a numeric (45, T) array, got {c.shape} {c.dtype}")
    return c.astype(np.float32).reshape(3, 15, -1).transpose(2, 1, 0)


def _interformer_split(root: Path) -> dict[str, str]:
    out = {}
    for name in ("Train", "Test"):
        f = root / f"{name}.txt"
        if f.is_file():
            for line in read_text(f).splitlines():
                for p in line.split():
                    out[str(Path(p).parent)] = name.lower()
    return out


def load(data_root: Path) -> list[Clip]:
    root = dataset_dir(data_root, FOLDER)
    split = _interformer_split(root)
    dirs = sorted(
        (d for d in (root / "Skeletons").glob("*/*") if d.is_dir()),
        key=lambda d: (d.parent.name, int(d.name) if d.name.isdigit() else 10**9, d.name),
    )
    if not dirs:
        raise fail(root, "no Skeletons/<class>/<id>/ folders")
    clips = []
    for d in dirs:
        cls = d.parent.name
        fa, fb = d / "skeleton_A.mat", d / "skeleton_B.mat"
        a, b = read_mat(fa), read_mat(fb)
        if a.shape != b.shape:
            raise fail(d, f"skeleton_A has {a.shape[0]} frames and skeleton_B {b.shape[0]}; they must match")
        xyz = np.stack([a, b])
        xy = xyz[..., :2] * SCALE
        xy[(xyz == 0).all(-1) | ~np.isfinite(xyz).all(-1)] = np.nan
        rel = f"Skeletons/{cls}/{d.name}"
        clips.append(
            clip_from_2d(
                xy,
                "k3hi15",
                fps=FPS,
                img_shape=None,
                label=CLASS_NAMES.get(cls, cls),
                source=str(fa),
                frame_dir=f"k3hi/{cls}/{d.name}",
                meta={
                    "dataset": "k3hi",
                    "class": cls,
                    "seq_id": int(d.name) if d.name.isdigit() else d.name,
                    "interformer_split": split.get(rel),
                    "persons": ["actor", "reactor"],
                },
            )
        )
    return clips
