"""Console tables of scoring results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from skelprompt.footage.results import AlertSpan, ClipResult, VideoResult

ALERT = "[red]ALERT[/red]"


def clip_table(result: ClipResult, top: int = 20) -> Table:
    """Clips ranked most anomalous first (``top`` rows; 0 = all)."""
    rows = result.clips
    order = np.argsort([-r.anomaly for r in rows], kind="stable")
    table = Table(title=f"{len(rows)} clips, threshold {result.threshold:.3f}")
    for col in ("rank", "clip", "anomaly", "ood", "prompt", "alert"):
        table.add_column(col, justify="left" if col == "clip" else "right")
    shown = order if top <= 0 else order[:top]
    for rank, i in enumerate(shown, 1):
        r = rows[i]
        name = f"{Path(r.source or '').name}::{r.frame_dir}" if r.frame_dir else str(r.source)
        table.add_row(
            str(rank), name, f"{r.anomaly:.3f}", f"{r.ood:.3f}", f"{r.prompt:.3f}",
            ALERT if r.is_anomaly else "",
        )  # fmt: skip
    return table


def window_table(video: str, result: VideoResult) -> Table:
    """One row per window: the whole scene's score and the most anomalous person's."""
    threshold = f"{result.threshold:.3f}" if result.threshold is not None else "-"
    table = Table(
        title=f"{video}: {result.frames} frames, {result.persons} tracked people, threshold {threshold}"
    )
    for col in ("window (s)", "scene", "most anomalous person", "alert"):
        table.add_column(col)
    for w in result.windows:
        top_p = w.persons[0] if w.persons else None
        who = f"#{top_p.track_id} {top_p.anomaly:.3f}" if top_p else "-"
        scene = f"{w.anomaly:.3f}" if w.anomaly is not None else "-"
        table.add_row(f"{w.start_s:.1f}-{w.end_s:.1f}", scene, who, ALERT if w.is_anomaly else "")
    return table


def alert_span_table(spans: list[AlertSpan]) -> Table:
    """One row per alert span: when, the peak anomaly, and the tracked people who alerted."""
    table = Table(title=f"{len(spans)} alert span(s)")
    for col in ("start (s)", "end (s)", "peak", "people"):
        table.add_column(col, justify="left" if col == "people" else "right")
    for s in spans:
        people = ", ".join(f"#{t}" for t in s.track_ids) or "whole scene"
        table.add_row(f"{s.start_s:.1f}", f"{s.end_s:.1f}", f"{s.peak:.3f}", people)
    return table
