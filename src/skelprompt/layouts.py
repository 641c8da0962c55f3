"""Named-joint layouts and the canonical vocabulary every layout maps onto.

A layout is an ordered list of joint names. The canonical vocabulary is the 13 body
joints that every supported source provides (the COCO-13 subset of
``../shared/data/README.md``), so canonical joint ``i`` is the same body part in every
data set. ``Layout.canonical_index[i]`` is the source joint that plays canonical joint
``i``. ``Layout.flip_index`` swaps left and right (for horizontal-flip augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass

from skelprompt.errors import LayoutError

CANONICAL_JOINTS: tuple[str, ...] = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
CANONICAL = "canonical13"


@dataclass(frozen=True)
class Layout:
    """An ordered joint vocabulary and its mapping onto the canonical joints."""

    name: str
    joints: tuple[str, ...]
    canonical_index: tuple[int, ...]  # for each canonical joint, the index in ``joints``
    description: str = ""

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """For each joint, the index of its left/right mirror (itself if unpaired)."""
        pos = {n: i for i, n in enumerate(self.joints)}
        out = []
        for n in self.joints:
            if n.startswith("left_"):
                out.append(pos.get("right_" + n[5:], pos[n]))
            elif n.startswith("right_"):
                out.append(pos.get("left_" + n[6:], pos[n]))
            else:
                out.append(pos[n])
        return tuple(out)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise LayoutError(f"layout {self.name!r} has no joint {joint!r}") from None


def _layout(name: str, joints: list[str], canonical: list[int], description: str) -> Layout:
    if len(canonical) != len(CANONICAL_JOINTS):
        raise AssertionError(name)
    return Layout(name, tuple(joints), tuple(canonical), description)


_COCO17 = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
_OPENPOSE18 = [
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
]  # fmt: skip
_KINECT20 = [
    "hip_center", "spine", "shoulder_center", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
]  # fmt: skip
_OPENNI15 = [
    "head", "neck", "torso", "left_shoulder", "left_elbow", "left_hand",
    "right_shoulder", "right_elbow", "right_hand", "left_hip", "left_knee", "left_foot",
    "right_hip", "right_knee", "right_foot",
]  # fmt: skip
_K3HI15 = [
    "head", "neck", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_hand", "right_hand", "torso", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_foot", "right_foot",
]  # fmt: skip
_JHMDB15 = [
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
    "right_ankle", "left_ankle",
]  # fmt: skip
_MSR20 = [
    "right_shoulder", "left_shoulder", "neck", "spine", "right_hip", "left_hip", "hip_center",
    "right_elbow", "left_elbow", "right_wrist", "left_wrist", "right_hand", "left_hand",
    "right_knee", "left_knee", "right_ankle", "left_ankle", "right_foot", "left_foot", "head",
]  # fmt: skip
_DEEPMIMIC16 = [
    "root", "chest", "neck", "head", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
]  # fmt: skip
_COCO13 = [_COCO17[0]] + _COCO17[5:]

LAYOUTS: dict[str, Layout] = {
    lay.name: lay
    for lay in [
        _layout("coco17", _COCO17, [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
                "COCO-17 (MoveNet, AlphaPose, COCO keypoints)"),
        _layout("coco13", _COCO13, list(range(13)), "COCO-17 without eyes and ears (URFD)"),
        _layout("openpose18", _OPENPOSE18, [0, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10],
                "OpenPose COCO-18"),
        _layout("kinect20", _KINECT20, [3, 4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18],
                "Kinect SDK v1, 20 joints (NW-UCLA, UTKinect, PRECOG)"),
        _layout("openni15", _OPENNI15, [0, 3, 6, 4, 7, 5, 8, 9, 12, 10, 13, 11, 14],
                "OpenNI 15 joints (SBU Kinect Interaction); hands as wrists, feet as ankles"),
        _layout("k3hi15", _K3HI15, [0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14],
                "K3HI 15 joints (own order); left/right unverified"),
        _layout("jhmdb15", _JHMDB15, [2, 4, 3, 8, 7, 12, 11, 6, 5, 10, 9, 14, 13],
                "JHMDB puppet 15 joints; face as head"),
        _layout("msr20", _MSR20, [19, 1, 0, 8, 7, 10, 9, 5, 4, 14, 13, 16, 15],
                "MSR Action3D 20 joints; left/right unverified"),
        _layout("deepmimic16", _DEEPMIMIC16, [3, 7, 4, 8, 5, 9, 6, 13, 10, 14, 11, 15, 12],
                "DeepMimic humanoid 16 joints; head centre as head"),
        _layout(CANONICAL, list(CANONICAL_JOINTS), list(range(13)),
                "the canonical vocabulary itself"),
    ]
}  # fmt: skip


def get_layout(name: str) -> Layout:
    """Return the layout called ``name`` or raise :class:`LayoutError` listing the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise LayoutError(
            f"unknown joint layout {name!r}; known layouts: {', '.join(sorted(LAYOUTS))}"
        ) from None
