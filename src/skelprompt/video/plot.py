"""Plot an anomaly score curve with its alert threshold and alert spans (matplotlib, Agg)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skelprompt.errors import SkelpromptError
from skelprompt.io.atomic import atomic_path


def plot_scores(
    times: Sequence[float] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    threshold: float | None,
    alert_spans: Sequence[tuple[float, float]] = (),
    out_png: str | os.PathLike[str] = "scores.png",
    title: str | None = None,
    labels: Sequence[str] | None = None,
    size: tuple[int, int] = (1000, 360),
    dpi: int = 100,
) -> Path:
    """Save a PNG of ``scores`` over ``times`` (seconds); return its path.

    ``scores`` is ``[T]`` or ``[K, T]`` (one curve per person/track, ``labels`` naming them;
    NaN leaves a gap). ``threshold`` draws a dashed red line, ``alert_spans`` ``[(t0, t1)]``
    shade red. The image is ``size`` pixels (width, height). Written atomically.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise SkelpromptError("plotting needs matplotlib: pip install matplotlib") from None
    t = np.asarray(times, np.float64)
    s = np.asarray(scores, np.float64)
    if s.ndim == 1:
        s = s[None]
    if s.ndim != 2 or s.shape[1] != t.shape[0]:
        raise SkelpromptError(
            f"scores must be [T] or [K, T] with T = len(times) = {t.shape[0]}, got {s.shape}"
        )
    out = Path(out_png)
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    try:
        for t0, t1 in alert_spans:
            ax.axvspan(float(t0), float(t1), color="red", alpha=0.15, lw=0)
        for k in range(s.shape[0]):
            lab = (
                labels[k]
                if labels is not None and k < len(labels)
                else (None if s.shape[0] == 1 else f"#{k}")
            )
            ax.plot(t, s[k], lw=1.5, label=lab)
        if threshold is not None and np.isfinite(threshold):
            ax.axhline(float(threshold), color="red", ls="--", lw=1.2, label=f"threshold {threshold:.3g}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("anomaly score")
        if title:
            ax.set_title(title)
        if len(t):
            ax.set_xlim(float(t.min()), float(t.max()) if t.max() > t.min() else float(t.min()) + 1)
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        with atomic_path(out, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return out
