"""Pinhole projection of 3D skeletons and random virtual-camera views.

3D joints are camera coordinates in metres: x right, y up, z depth (away from the camera).
The image plane has x right and y down, so ``u = x / z`` and ``v = -y / z`` (unit focal length).
Missing joints are NaN (or are masked by the caller); they stay NaN through every function here.
"""

from __future__ import annotations

import numpy as np

MIN_DEPTH = 1e-3  # joints closer than 1 mm to the camera plane (or behind it) cannot be projected


def project_pinhole(xyz: np.ndarray) -> np.ndarray:
    """Project ``xyz [..., 3]`` to ``uv [..., 2]`` with ``u = x/z, v = -y/z``; NaN where ``z <= 1 mm``."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.shape[-1] != 3:
        raise ValueError(f"expected [..., 3] coordinates, got shape {xyz.shape}")
    z = xyz[..., 2]
    ok = z > MIN_DEPTH
    zs = np.where(ok, z, 1.0)
    uv = np.stack([xyz[..., 0] / zs, -xyz[..., 1] / zs], axis=-1)
    uv[~ok] = np.nan
    return uv


def skeleton_centre(xyz: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Mean of the valid (finite, and ``valid`` where given) joints of ``xyz [..., 3]``: shape (3,)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    ok = np.isfinite(xyz).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if not ok.any():
        return np.zeros(3)
    return xyz[ok].mean(0)


def rotation_matrix(yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """Rotation about the vertical (y) axis by ``yaw`` then about the x axis by ``pitch`` (degrees)."""
    a, b = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    ry = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    return rx @ ry


def rotate(
    xyz: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0, valid: np.ndarray | None = None
) -> np.ndarray:
    """Rotate ``xyz [..., 3]`` about the skeleton's centre (mean of the valid joints)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    c = skeleton_centre(xyz, valid)
    return (xyz - c) @ rotation_matrix(yaw_deg, pitch_deg).T + c


def rotate_y(xyz: np.ndarray, yaw_deg: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Rotate ``xyz [..., 3]`` by ``yaw_deg`` about the vertical axis through the skeleton's centre."""
    return rotate(xyz, yaw_deg, 0.0, valid)


def random_view(
    xyz: np.ndarray,
    rng: np.random.Generator,
    max_yaw: float = 30.0,
    max_pitch: float = 10.0,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """A random virtual camera: rotate about the centre (uniform yaw/pitch) and project; ``[..., 2]``."""
    yaw = float(rng.uniform(-max_yaw, max_yaw))
    pitch = float(rng.uniform(-max_pitch, max_pitch))
    return project_pinhole(rotate(xyz, yaw, pitch, valid))


def place_in_front(xyz: np.ndarray, distance: float = 4.0, valid: np.ndarray | None = None) -> np.ndarray:
    """Translate ``xyz`` so that its centre sits at ``(0, 0, distance)``: a virtual camera for mocap."""
    xyz = np.asarray(xyz, dtype=np.float64)
    return xyz - skeleton_centre(xyz, valid) + np.array([0.0, 0.0, distance])
