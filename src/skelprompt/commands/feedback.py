"""`skelprompt feedback`: tell a detector which of its alerts were false alarms (their windows
become normal) and which were true (kept as anomaly examples); list and undo what was told."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from skelprompt.commands.options import Layout, TrustPickle
from skelprompt.errors import SkelpromptError

if TYPE_CHECKING:
    from skelprompt.clip import Clip
    from skelprompt.detector import Detector
    from skelprompt.detector.feedback import FeedbackLog
    from skelprompt.footage.feedback_windows import Selection

console = Console()
REF_HELP = (
    "In a video's results: an alert span (N or alert:N, as `score` lists them) or a time range S-E in "
    "seconds; in clip results: a clip (N, 1-based, or its frame_dir). Repeatable."
)


def feedback(
    detector: Annotated[Path, typer.Argument(help="The detector (from `skelprompt fit`).")],
    results: Annotated[
        Path | None, typer.Option("--results", "-r", help="The JSON `skelprompt score --json` wrote.")
    ] = None,
    false_alarm: Annotated[
        list[str] | None, typer.Option("--false-alarm", "-f", help=f"A false alarm. {REF_HELP}")
    ] = None,
    true_alarm: Annotated[
        list[str] | None, typer.Option("--true-alarm", "-t", help=f"A true alarm. {REF_HELP}")
    ] = None,
    undo: Annotated[
        list[int] | None, typer.Option("--undo", help="Undo feedback record ID (repeatable).")
    ] = None,
    list_records: Annotated[bool, typer.Option("--list", help="List the feedback records.")] = False,
    by: Annotated[str | None, typer.Option(help="Who gives the feedback (default: the user name).")] = None,
    note: Annotated[str, typer.Option(help="A note kept with each record.")] = "",
    tracks: Annotated[
        Path | None,
        typer.Option(
            help="Video results: the video's tracked clip (`skelprompt extract`), instead of pose estimation again."
        ),
    ] = None,
    trust_pickle: TrustPickle = False,
    layout: Layout = "coco17",
) -> None:
    """Feedback on alerts: false alarms join the detector's normal set at once (no refit; the
    threshold follows), true alarms are kept as anomaly examples. Each change is a record in
    DETECTOR's sidecar file (DETECTOR.feedback.safetensors, with a checksum) that `score` and
    `serve` apply; --undo ID takes one back, --list shows them."""
    from skelprompt.detector import Detector
    from skelprompt.detector.feedback import locked, read_log, sidecar_path, with_feedback

    verdicts = [("false_alarm", r) for r in false_alarm or []] + [("true_alarm", r) for r in true_alarm or []]
    if not verdicts and not undo and not list_records:
        raise SkelpromptError("give --false-alarm, --true-alarm, --undo or --list")
    if verdicts and results is None:
        raise SkelpromptError(
            "--false-alarm and --true-alarm need --results (the JSON of `skelprompt score`)"
        )
    if not detector.is_file():
        raise SkelpromptError(f"{detector}: no such detector file")
    who = by if by is not None else _user()
    base = Detector.load(detector)
    path = sidecar_path(detector)
    selections = _selections(base, results, verdicts, tracks, trust_pickle, layout) if verdicts else []
    with locked(path):
        log = read_log(base, path)
        changed = False
        for record_id in undo or []:
            rec = log.undo(record_id, who, note)
            console.print(f"record {rec.id}: undid record {record_id}")
            changed = True
        for verdict, sel in selections:
            _record(base, log, verdict, sel, who, note)
            changed = True
        if changed:
            with_feedback(base, log)  # a detector this log would not apply to fails before the write
            log.save(path)
    if list_records:
        console.print(_table(log))
    if changed:
        det = with_feedback(base, log)
        info = det.info["feedback"]
        console.print(
            f"{path}: {info['false_alarms']} false alarm(s), {info['true_alarms']} true alarm(s) in force; "
            f"the detector's normal set now holds {0 if det.normal_ood is None else len(det.normal_ood)} windows"
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _record(base: Detector, log: FeedbackLog, verdict: str, sel: Selection, who: str, note: str) -> None:
    from skelprompt.detector.feedback import window_features

    key = json.dumps({k: sel.about[k] for k in ("results", "source", "ref")}, sort_keys=True)
    for r in log.active():
        if json.dumps({k: r.about.get(k) for k in ("results", "source", "ref")}, sort_keys=True) == key:
            raise SkelpromptError(
                f"{sel.ref}: already recorded as record {r.id} ({r.verdict}); --undo {r.id} first"
            )
    rec = log.add(verdict, window_features(base, sel.clips), who, sel.about, note)
    what = verdict.replace("_", " ")
    console.print(f"record {rec.id}: {what} on {sel.ref} ({rec.windows} windows) by {rec.by}")


def _selections(
    base: Detector,
    results: Path | None,
    verdicts: list[tuple[str, str]],
    tracks: Path | None,
    trust_pickle: bool,
    layout: str,
) -> list[tuple[str, Selection]]:
    from skelprompt.footage.feedback_windows import clip_selection, video_selection
    from skelprompt.footage.results import ClipResult, from_json

    assert results is not None
    data = _read_results(results)
    try:
        result = from_json(data)
    except (TypeError, KeyError, ValueError) as e:
        raise SkelpromptError(f"{results}: not a result of `skelprompt score --json` ({e})") from None
    if isinstance(result, list):
        if len(result) != 1:
            raise SkelpromptError(f"{results}: holds {len(result)} videos; give the results of one video")
        result = result[0]
    name = str(results)
    if isinstance(result, ClipResult):
        clips = _scored_clips(result, trust_pickle, layout)
        return [(v, clip_selection(result, ref, clips, name)) for v, ref in verdicts]
    video = result
    cache: list[Clip] = []

    def tracked() -> Clip:
        if not cache:
            cache.append(_tracked_video(base, video.source, tracks, trust_pickle, layout))
        return cache[0]

    return [(v, video_selection(video, ref, tracked, name)) for v, ref in verdicts]


def _read_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SkelpromptError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SkelpromptError(f"{path}: not a JSON results file ({e})") from None
    if not isinstance(data, dict) or ("clips" not in data and "windows" not in data and "videos" not in data):
        raise SkelpromptError(
            f"{path}: not a result of `skelprompt score --json` (no clips, windows or videos)"
        )
    return data


def _scored_clips(result: Any, trust_pickle: bool, layout: str) -> list[Clip]:
    from skelprompt.io import load_clips

    out: list[Clip] = []
    for src in dict.fromkeys(c.source for c in result.clips):
        if not src or not Path(src).is_file():
            raise SkelpromptError(f"{src}: the scored clip file is not there any more")
        out.extend(load_clips(src, trust_pickle=trust_pickle, layout=layout))
    return out


def _tracked_video(
    base: Detector, source: str | None, tracks: Path | None, trust_pickle: bool, layout: str
) -> Clip:
    from skelprompt.footage.sources import FootageSettings, extract
    from skelprompt.io import load_clips

    if tracks is not None:
        clips = load_clips(tracks, trust_pickle=trust_pickle, layout=layout)
        if len(clips) != 1:
            raise SkelpromptError(
                f"{tracks}: --tracks needs one tracked clip of the video, found {len(clips)}"
            )
        return clips[0]
    if not source or not Path(source).is_file():
        raise SkelpromptError(f"{source}: the scored video is not there any more; give --tracks")
    return extract(source, FootageSettings.of_detector(base.info))


def _table(log: FeedbackLog) -> Table:
    gone = log.undone()
    table = Table(title=f"{len(log.records)} feedback record(s)")
    for col in ("id", "verdict", "by", "at", "windows", "about", "state"):
        table.add_column(col)
    for r in log.records:
        about = describe(r.about)
        state = "undone" if r.id in gone else ("" if r.verdict == "undo" else "in force")
        table.add_row(str(r.id), r.verdict.replace("_", " "), r.by, r.at, str(r.windows), about, state)
    return table


def describe(about: dict[str, Any]) -> str:
    """A record's ``about`` in a few words: which alert, window or clip of what."""
    src = Path(str(about.get("source") or about.get("camera") or "")).name
    if "alert_id" in about:
        return f"alert {about['alert_id']} of camera {about.get('camera', '?')}"
    if "clip" in about:
        return f"clip {about['clip']} ({about.get('frame_dir') or '-'}) of {src}"
    span = f"{about.get('start_s', 0):g}-{about.get('end_s', 0):g} s"
    what = f"alert {about['alert']} ({span})" if "alert" in about else span
    return f"{what} of {src}"


def register(app: typer.Typer) -> None:
    app.command()(feedback)
