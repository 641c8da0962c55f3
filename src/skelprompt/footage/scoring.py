"""Clips and windows in, typed scores out: what the detector says about clip files, about each
window of a timeline and about each tracked person in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from skelprompt.clip import Clip
from skelprompt.footage.results import AlertSpan, ClipResult, ClipScore, PersonScore, VideoResult, WindowScore
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S, Window, cut_windows, person_box

if TYPE_CHECKING:
    from skelprompt.detector import Scores

NO_PERSON_NOTE = "no person visible in any window"
# An alerting window that starts at most this long after a span's end continues the span, so an
# event whose windows flicker below the threshold for a moment is one alert, not two.
ALERT_GAP_S = 1.0


def continues_span(span_end_s: float, window_start_s: float, gap_s: float = ALERT_GAP_S) -> bool:
    """Whether an alerting window starting at ``window_start_s`` belongs to the span ending at
    ``span_end_s`` (the rule of :func:`alert_spans`, shared with ``skelprompt serve``)."""
    return window_start_s <= span_end_s + gap_s


class ClipScorer(Protocol):
    """What footage scoring needs from a detector (:class:`skelprompt.detector.Detector` is one)."""

    def score(
        self,
        clips: list[Clip],
        prompts: list[str] | None = None,
        normal_prompts: list[str] | None = None,
        false_alarm_rate: float | None = None,
        progress: bool = False,
    ) -> Scores: ...


def score_clips(
    detector: ClipScorer,
    clips: list[Clip],
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    false_alarm_rate: float | None = None,
    progress: bool = True,
) -> ClipResult:
    """One row of scores per clip, in the clips' order."""
    s = detector.score(clips, prompts, normal_prompts, false_alarm_rate, progress=progress)
    alert = s.is_anomaly
    rows = [
        ClipScore(
            source=c.source,
            frame_dir=c.frame_dir,
            label=c.label,
            anomaly=float(s.anomaly[i]),
            ood=float(s.ood[i]),
            prompt=float(s.prompt[i]),
            p_ood=float(s.p_ood[i]),
            p_prompt=float(s.p_prompt[i]),
            is_anomaly=bool(alert[i]),
        )
        for i, c in enumerate(clips)
    ]
    return ClipResult(threshold=s.threshold, prompts=s.prompts, normal_prompts=s.normal_prompts, clips=rows)


def score_windows(
    detector: ClipScorer,
    windows: list[Window],
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    false_alarm_rate: float | None = None,
) -> tuple[list[WindowScore], Scores | None]:
    """Score every window and every person in it in one batch.

    Returns one row per window (persons most anomalous first) and the detector's scores
    (threshold, prompts); no rows and None when nobody is visible in any window.
    """
    whole = [(i, w.clip) for i, w in enumerate(windows) if w.clip is not None]
    persons = [(i, tid, p) for i, w in enumerate(windows) for tid, p in w.persons]
    batch = [c for _, c in whole] + [p for _, _, p in persons]
    if not batch:
        return [], None
    s = detector.score(batch, prompts, normal_prompts, false_alarm_rate)
    alert = s.is_anomaly
    rows = [WindowScore(w.start_frame, w.end_frame, round(w.start_s, 3), round(w.end_s, 3)) for w in windows]
    for j, (i, _) in enumerate(whole):
        r = rows[i]
        r.anomaly, r.ood, r.prompt = float(s.anomaly[j]), float(s.ood[j]), float(s.prompt[j])
        r.is_anomaly = bool(alert[j])
    off = len(whole)
    for j, (i, tid, p) in enumerate(persons):
        k = off + j
        rows[i].persons.append(
            PersonScore(
                track_id=tid,
                box=person_box(p),
                anomaly=float(s.anomaly[k]),
                ood=float(s.ood[k]),
                prompt=float(s.prompt[k]),
                is_anomaly=bool(alert[k]),
            )
        )
    for r in rows:
        r.persons.sort(key=lambda p: -p.anomaly)
        if r.persons and r.anomaly is not None:
            # a window alerts when the whole scene or any one person in it does
            r.is_anomaly = bool(r.is_anomaly or r.persons[0].is_anomaly)
    return rows, s


def alert_spans(rows: list[WindowScore], gap_s: float = ALERT_GAP_S) -> list[AlertSpan]:
    """Merge alerting windows that overlap or follow within ``gap_s`` into spans [start_s, end_s]
    with the persons involved: those who alert on their own, or, when only the whole scene
    alerts, its most anomalous person."""
    spans: list[AlertSpan] = []
    for r in rows:
        if not r.is_anomaly:
            continue
        who = sorted({p.track_id for p in r.persons if p.is_anomaly})
        if not who and r.persons:  # persons are sorted most anomalous first
            who = [r.persons[0].track_id]
        if spans and continues_span(spans[-1].end_s, r.start_s, gap_s):
            last = spans[-1]
            last.end_s = max(last.end_s, r.end_s)
            last.peak = max(last.peak, r.anomaly or 0.0)
            last.track_ids = sorted(set(last.track_ids) | set(who))
        else:
            spans.append(AlertSpan(r.start_s, r.end_s, r.anomaly or 0.0, who))
    return spans


def score_video_clip(
    detector: ClipScorer,
    clip: Clip,
    prompts: list[str] | None = None,
    normal_prompts: list[str] | None = None,
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    false_alarm_rate: float | None = None,
) -> VideoResult:
    """A tracked clip of a whole video cut into windows and scored: when, and who."""
    rows, s = score_windows(
        detector, cut_windows(clip, length_s, stride_s), prompts, normal_prompts, false_alarm_rate
    )
    scored = [r.anomaly for r in rows if r.anomaly is not None]
    return VideoResult(
        source=clip.source,
        fps=clip.fps,
        frames=clip.num_frames,
        persons=clip.num_persons,
        window_length_s=length_s,
        window_stride_s=stride_s,
        threshold=s.threshold if s is not None else None,
        prompts=s.prompts if s is not None else list(prompts or []),
        normal_prompts=s.normal_prompts if s is not None else list(normal_prompts or []),
        video_score=max(scored) if scored else None,
        alert_spans=alert_spans(rows),
        windows=rows,
        note=None if s is not None else NO_PERSON_NOTE,
    )


def scene_frame_scores(clip: Clip, result: VideoResult) -> np.ndarray:
    """[T] whole-scene anomaly per frame: the maximum over the windows covering the frame."""
    out = np.full(clip.num_frames, np.nan)
    for w in result.windows:
        if w.anomaly is not None:
            seg = out[w.start_frame : w.end_frame]
            out[w.start_frame : w.end_frame] = np.fmax(seg, w.anomaly)
    return out


def person_frame_scores(clip: Clip, result: VideoResult) -> np.ndarray:
    """[M, T] anomaly per person and frame: the maximum over the windows covering the frame."""
    ids = list(clip.track_ids) if clip.track_ids is not None else list(range(clip.num_persons))
    row = {int(t): m for m, t in enumerate(ids)}
    out = np.full((clip.num_persons, clip.num_frames), np.nan)
    for w in result.windows:
        for p in w.persons:
            m = row.get(p.track_id)
            if m is None:
                continue
            seg = out[m, w.start_frame : w.end_frame]
            out[m, w.start_frame : w.end_frame] = np.fmax(seg, p.anomaly)
    return out
