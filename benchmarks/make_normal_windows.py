"""Write a PySKL pickle of N plausible normal one-person 16-frame windows, for `fit` at scale.

Run: python benchmarks/make_normal_windows.py 40000 --out /tmp/normal-40k.pkl [--data-root DIR]

Each window is cut from a real JHMDB clip (ground-truth 2D joints of walking, running,
standing, sitting, waving, clapping, picking and pouring: the jhmdb-novel benchmark's normal
classes) at a random start and playback speed (0.8-1.25x), then randomly scaled (0.8-1.25x),
moved and jittered (noise of 2% of the body's height per joint and frame). Windows of one
clip overlap as windows of a long recording at a short stride do, so k-NN finds close but
never identical neighbours, as on real footage. The file is COCO-17 (eyes and ears unseen),
what `skelprompt fit big.pkl --trust-pickle` reads by default.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from skelprompt.datasets.registry import load_dataset
from skelprompt.io.atomic import write_with
from skelprompt.layouts import LAYOUTS

NORMAL_CLASSES = ("walk", "run", "stand", "sit", "wave", "clap", "pick", "pour")
FRAMES = 16
COCO = LAYOUTS["coco17"]


def source_tracks(data_root: str | None) -> list[np.ndarray]:
    """Canonical [T, 13, 2] joint tracks of the normal JHMDB clips."""
    clips = [c for c in load_dataset("jhmdb", data_root) if c.label in NORMAL_CLASSES]
    return [c.to_canonical().keypoint[0].astype(np.float64) for c in clips]


def window(rng: np.random.Generator, track: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """A [frames, 13, 2] window of ``track``: random start, speed, scale, place and jitter."""
    t = len(track)
    span = min((frames - 1) * rng.uniform(0.8, 1.25), t - 1)
    times = rng.uniform(0, t - 1 - span) + np.linspace(0, span, frames)
    lo = np.floor(times).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    a = (times - lo)[:, None, None]
    w = (1 - a) * track[lo] + a * track[hi]
    height = float(np.ptp(w[..., 1])) or 1.0
    centre = w.reshape(-1, 2).mean(0)
    w = (w - centre) * rng.uniform(0.8, 1.25) + centre + rng.normal(0, 0.1 * height, 2)
    return w + rng.normal(0, 0.02 * height, w.shape)


def annotation(name: str, canonical: np.ndarray) -> dict[str, Any]:
    """A PySKL annotation of one person: COCO-17 with the 13 canonical joints seen."""
    kp = np.zeros((1, len(canonical), len(COCO.joints), 2), np.float32)
    score = np.zeros(kp.shape[:3], np.float32)
    kp[0][:, list(COCO.canonical_index)] = canonical
    score[0][:, list(COCO.canonical_index)] = 1.0
    return {
        "frame_dir": name,
        "label": 0,
        "img_shape": (0, 0),
        "original_shape": (0, 0),
        "total_frames": len(canonical),
        "keypoint": kp,
        "keypoint_score": score,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("count", type=int, help="Number of windows.")
    ap.add_argument("--out", type=Path, required=True, help="The .pkl to write.")
    ap.add_argument("--data-root", default=None, help="Folder holding jhmdb_ddnet (default: ../shared/data).")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    tracks = source_tracks(args.data_root)
    picks = rng.integers(len(tracks), size=args.count)
    anns = [annotation(f"normal_{i:06d}", window(rng, tracks[j])) for i, j in enumerate(picks)]
    data = {"split": {"train": [a["frame_dir"] for a in anns]}, "annotations": anns}

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(data, fh, protocol=4)

    write_with(args.out, _write)
    print(f"{args.count} windows from {len(tracks)} JHMDB clips -> {args.out}")


if __name__ == "__main__":
    main()
