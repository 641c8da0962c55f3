"""DeepMimic humanoid3d reference motions as 3D joint positions (30 fps), cut into windows.

World coordinates in metres, right-handed, y up; the character faces +x at rest with its right
side at +z. A virtual camera looks at the character from the front: camera x = -world z,
camera y = world y, camera z = -world x (a reflection, since the camera frame x right / y up /
z depth is left-handed), then each window is moved so that its centre sits 4 m in front of the
camera. Windows of 64 frames, stride 32 (plus one ending at the last frame); shorter clips are
one window. Label = the clip's short text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelprompt.clip import Clip
from skelprompt.datasets._common import check_offsets, check_shape, clip_from_3d, dataset_dir, fail, load_npz
from skelprompt.project3d import place_in_front

FOLDER = "deepmimic_mocap"
FILE = "deepmimic_humanoid3d_30fps.npz"
FPS = 30.0
WINDOW = 64
STRIDE = 32
DISTANCE = 4.0


def window_starts(t: int, window: int = WINDOW, stride: int = STRIDE) -> list[int]:
    if t <= window:
        return [0]
    starts = list(range(0, t - window + 1, stride))
    if starts[-1] + window < t:
        starts.append(t - window)
    return starts


def world_to_camera(xyz: np.ndarray) -> np.ndarray:
    """DeepMimic world (x forward, y up, z right of the character) -> frontal camera frame."""
    xyz = np.asarray(xyz, np.float32)
    return np.stack([-xyz[..., 2], xyz[..., 1], -xyz[..., 0]], axis=-1)


def load_sequences(data_root: Path) -> list[tuple[str, str, np.ndarray]]:
    """(clip_name, text, positions [T, 16, 3] world metres) for each of the source clips."""
    path = dataset_dir(data_root, FOLDER) / FILE
    z = load_npz(
        path,
        {"positions": 3, "lengths": 1, "offsets": 1, "text": 1, "clip_name": 1},
        text=("text", "clip_name"),
        floats=("positions",),
    )
    pos = z["positions"]
    check_shape(path, pos, (16, 3), "positions")
    n = len(z["lengths"])
    check_offsets(path, z["offsets"], len(pos), n, start_with_zero=False)
    if len(z["text"]) != n or len(z["clip_name"]) != n:
        raise fail(path, f"'text'/'clip_name' do not match the {n} clips")
    out = []
    for i in range(n):
        o, length = int(z["offsets"][i]), int(z["lengths"][i])
        if length <= 0 or o + length > len(pos):
            raise fail(path, f"clip {i} ({z['clip_name'][i]}) has a bad offset/length {o}/{length}")
        out.append((str(z["clip_name"][i]), str(z["text"][i]), pos[o : o + length]))
    return out


def load(data_root: Path, window: int = WINDOW, stride: int = STRIDE) -> list[Clip]:
    path = Path(data_root) / FOLDER / FILE
    clips = []
    for name, text, seq in load_sequences(data_root):
        cam = world_to_camera(seq)
        for s in window_starts(len(cam), window, stride):
            w = place_in_front(cam[s : s + window], DISTANCE).astype(np.float32)
            clips.append(
                clip_from_3d(
                    w[None],
                    "deepmimic16",
                    fps=FPS,
                    label=text,
                    source=str(path),
                    frame_dir=f"deepmimic/{name}/{s:05d}",
                    start_frame=s,
                    meta={
                        "dataset": "deepmimic",
                        "clip_name": name,
                        "start": s,
                        "stop": s + len(w),
                        "clip_frames": len(cam),
                    },
                )
            )
    return clips
