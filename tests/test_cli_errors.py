"""Every bad input gets one clear line and exit code 2, and nothing the user saved is lost.

Most invocations run in this process through ``skelprompt.cli.main`` (the entry point itself:
argument parsing, our checks and the error handling); a few run as real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from skelprompt.cli import main
from skelprompt.errors import ClipError, ModelError
from tests.helpers import EXAMPLE_VIDEO, sbu_clips
from tests.test_cli import run_cli


def run_main(capsys, *args: str) -> SimpleNamespace:
    """``skelprompt ARGS`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_clear_line(r: SimpleNamespace, names: str, args: tuple[str, ...] | list[str]) -> None:
    """Exit code 2, no traceback, exactly one error line on stderr, and it names ``names``."""
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr, (args, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1, (args, r.stderr)
    assert names in errors[0], (args, errors[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> SimpleNamespace:
    """Real SBU clips as clip files, a detector fitted on them, and a copy of the example video."""
    from skelprompt.detector import Detector
    from skelprompt.io import save_clips
    from skelprompt.model import untrained_model

    root = tmp_path_factory.mktemp("bad_input")
    clips = sbu_clips()
    normal = [c for c in clips if c.label == "hugging"][:12]
    save_clips(root / "normal.npz", normal)
    save_clips(root / "test.npz", [c for c in clips if c.label == "kicking"][:4])
    (root / "folder").mkdir()
    save_clips(root / "folder" / "part.npz", normal[:4])
    det = Detector(untrained_model(seed=0)).fit(normal)
    det.save(root / "det.safetensors")
    shutil.copy(EXAMPLE_VIDEO, root / "v.mp4")
    (root / "a_file").write_text("not a folder\n")
    (root / "out_folder").mkdir()
    return SimpleNamespace(root=root, det=det, test=[c for c in clips if c.label == "kicking"][:4])


# --- usage: missing, unknown and out-of-range options --------------------------------------------

# (arguments after the command, what the error line must name); {n} = normal.npz, {t} = test.npz,
# {d} = the detector, {v} = the video, {o} = an output path that does not exist yet
USAGE_CASES = [
    ("fit {n}", "--out"),
    ("fit {n} --out {o} --bogus", "--bogus"),
    ("scor", "scor"),
    ("fit {n} --out {o} --false-alarm-rate 2", "--false-alarm-rate"),
    ("fit {n} --out {o} --false-alarm-rate 5", "--false-alarm-rate"),
    ("fit {n} --out {o} --false-alarm-rate -1", "--false-alarm-rate"),
    ("fit {n} --out {o} --false-alarm-rate nan", "--false-alarm-rate"),
    ("fit {n} --out {o} --k 0", "--k"),
    ("fit {n} --out {o} --ood nope", "--ood"),
    ("fit {n} --out {o} --ood-features pose+nope", "--ood-features"),
    ("fit {n} --out {o} --combine nope", "--combine"),
    ("fit {n} --out {o} --window-length -1", "--window-length"),
    ("fit {n} --out {o} --window-stride 0", "--window-stride"),
    ("fit {n} --out {o} --window-length inf", "--window-length"),
    ("fit {n} --out {o} --false-alarms-per-hour -1", "--false-alarms-per-hour"),
    ("fit {n} --out {o} --input-size 100", "--input-size"),
    ("fit {n} --out {o} --input-size 0", "--input-size"),
    ("score {t} -d {d} --bogus", "--bogus"),
    ("score {t}", "--detector"),
    ("score {t} -d {d} --top -3", "--top"),
    ("score {t} -d {d} --false-alarm-rate 5", "--false-alarm-rate"),
    ("score {t} -d {d} --false-alarm-rate -1", "--false-alarm-rate"),
    ("score {v} -d {d} --window-length 0", "--window-length"),
    ("score {v} -d {d} --window-stride -0.5", "--window-stride"),
    ("score {v} -d {d} --input-size 100", "--input-size"),
    ("score {v} -d {d} --live --max-frames 0", "--max-frames"),
    ("extract {v} --out {o}.npz --max-frames 0", "--max-frames"),
    ("extract {v} --out {o}.npz --input-size 100", "--input-size"),
    ("extract {v} --out {o}.npz --min-person-score 2", "--min-person-score"),
    ("extract {v} --out {o}.npz --min-track-frames 0", "--min-track-frames"),
    ("extract {v} --out {o}.npz --max-age -1", "--max-age"),
    ("extract {v}", "--out"),
    ("data export sbu", "--out"),
    ("data nope", "nope"),
]


def _args(files: SimpleNamespace, case: str) -> list[str]:
    r = files.root
    names = {"n": r / "normal.npz", "t": r / "test.npz", "d": r / "det.safetensors", "v": r / "v.mp4"}
    return [
        w.format(**{k: str(v) for k, v in names.items()}, o=str(r / "never_written")) for w in case.split()
    ]


def test_usage_errors_name_the_option_with_exit_code_2(files, capsys) -> None:
    for case, names in USAGE_CASES:
        args = _args(files, case)
        r = run_main(capsys, *args)
        assert_one_clear_line(r, names, args)
        assert "Usage: skelprompt" in r.stderr, (args, r.stderr)
    assert not list(files.root.glob("never_written*"))


def test_no_arguments_prints_help_and_version_prints_the_version(capsys) -> None:
    from skelprompt import __version__

    r = run_main(capsys)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr
    assert "fit" in r.stdout + r.stderr and "score" in r.stdout + r.stderr
    r = run_main(capsys, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"skelprompt {__version__}"


def test_verbose_sets_the_environment_for_the_pose_runtime(capsys, monkeypatch) -> None:
    from skelprompt.video.pose import VERBOSE_ENV

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    r = run_main(capsys, "--verbose", "inspect", "--help")
    assert r.returncode == 0 and os.environ.get(VERBOSE_ENV) == "1"


# --- outputs: never over an input, never a folder ------------------------------------------------

# (arguments, the file the error line must name, the input that must stay unchanged)
OUTPUT_CASES = [
    ("fit {n} --untrained --out {n}", "normal.npz", "normal.npz"),
    ("fit {folder} --untrained --out {folder}/part.npz", "part.npz", "folder/part.npz"),
    ("fit {n} --untrained --out {link}", "link.npz", "normal.npz"),
    ("score {t} -d {d} --json {t}", "test.npz", "test.npz"),
    ("score {t} -d {d} --json {d}", "det.safetensors", "det.safetensors"),
    ("score {v} -d {d} --plot {v}", "v.mp4", "v.mp4"),
    ("score {v} -d {d} --render {v}", "v.mp4", "v.mp4"),
    ("score {v} -d {d} --json {d}", "det.safetensors", "det.safetensors"),
    ("score {v} -d {d} --live --jsonl {d}", "det.safetensors", "det.safetensors"),
    ("score {v} -d {d} --live --jsonl {v}", "v.mp4", "v.mp4"),
    ("extract {v} --out {v}", "v.mp4", "v.mp4"),
    ("extract {v} --out {root}/c.npz --render {v}", "v.mp4", "v.mp4"),
    ("data export sbu --data-root {fake_root} --out {fake_root}/sbu_kinect_interaction/x.npz", "x.npz",
     "fake_root/sbu_kinect_interaction/x.npz"),
    ("fit {n} --untrained --out {root}/out_folder", "out_folder", "normal.npz"),
    ("fit {n} --untrained --out {root}/a_file/d.safetensors", "a_file", "a_file"),
    ("score {t} -d {d} --json {root}/a_file/s.json", "a_file", "a_file"),
    ("score {v} -d {d} --plot {root}/s.json", "s.json", "v.mp4"),
    ("score {v} -d {d} --render {root}/s.avi", "s.avi", "v.mp4"),
    ("score {v} -d {d} --json {root}/s.png --plot {root}/s.png", "s.png", "v.mp4"),
    ("extract {v} --out {root}/c.json", "c.json", "v.mp4"),
]  # fmt: skip


def test_an_output_over_an_input_or_a_folder_is_refused_before_any_work(files, capsys) -> None:
    root = files.root
    fake = root / "fake_root" / "sbu_kinect_interaction"
    fake.mkdir(parents=True, exist_ok=True)  # a data set folder: whatever is in it may be read
    (fake / "x.npz").write_bytes(b"a data file")
    link = root / "link.npz"
    if not link.exists():
        link.symlink_to(root / "normal.npz")
    paths = {"n": "normal.npz", "t": "test.npz", "d": "det.safetensors", "v": "v.mp4", "folder": "folder"}
    fill = {k: str(root / v) for k, v in paths.items()}
    fill.update(root=str(root), link=str(link), fake_root=str(root / "fake_root"))
    before = {p: sha256(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    for case, names, kept in OUTPUT_CASES:
        args = [w.format(**fill) for w in case.split()]
        r = run_main(capsys, *args)
        assert_one_clear_line(r, names, args)
        assert sha256(root / kept) == before[root / kept], args
    after = {p: sha256(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before  # nothing written, nothing changed


def test_options_for_another_kind_of_input_are_errors(files, capsys) -> None:
    r_ = files.root
    cases = [
        (["score", str(r_ / "test.npz"), "-d", str(r_ / "det.safetensors"), "--plot", str(r_ / "p.png")], "--plot"),
        (["score", str(r_ / "test.npz"), "-d", str(r_ / "det.safetensors"), "--jsonl", str(r_ / "l.jsonl")], "--jsonl"),
        (["score", str(r_ / "v.mp4"), "-d", str(r_ / "det.safetensors"), "--live", "--json", str(r_ / "s.json")], "--json"),
        (["score", str(r_ / "v.mp4"), "-d", str(r_ / "det.safetensors"), "--max-frames", "5"], "--max-frames"),
        (["score", str(r_ / "v.mp4"), str(r_ / "test.npz"), "-d", str(r_ / "det.safetensors")], "test.npz"),
        (["score", str(r_ / "v.mp4"), str(r_ / "v.mp4"), "-d", str(r_ / "det.safetensors"), "--plot", str(r_ / "p.png")], "--plot"),
    ]  # fmt: skip
    for args, names in cases:
        r = run_main(capsys, *args)
        assert_one_clear_line(r, names, args)
    assert not any((r_ / n).exists() for n in ("p.png", "l.jsonl", "s.json"))


# --- bad files -----------------------------------------------------------------------------------


def test_bad_files_are_one_line_naming_the_file(files, capsys, tmp_path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.npz").write_text("hello")
    (tmp_path / "text.safetensors").write_text("hello")
    r_ = files.root
    cases = [
        (["extract", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "c.npz")], "empty.mp4"),
        (["score", str(tmp_path / "text.npz"), "-d", str(r_ / "det.safetensors")], "text.npz"),
        (["score", str(r_ / "test.npz"), "-d", str(tmp_path / "text.safetensors")], "text.safetensors"),
        (["score", str(r_ / "test.npz"), "-d", str(tmp_path)], str(tmp_path)),
        (["inspect", str(tmp_path / "missing.npz")], "missing.npz"),
        (["fit", str(tmp_path / "text.npz"), "--untrained", "--out", str(tmp_path / "d.safetensors")], "text.npz"),
    ]  # fmt: skip
    for args, names in cases:
        r = run_main(capsys, *args)
        assert_one_clear_line(r, names, args)
    assert not (tmp_path / "c.npz").exists() and not (tmp_path / "d.safetensors").exists()


def test_real_processes_exit_2_with_one_line(files) -> None:
    """The installed entry point as users run it: a usage error, an output over an input."""
    root = files.root
    r = run_cli("fit", str(root / "normal.npz"))
    assert_one_clear_line(r, "--out", ["fit"])  # type: ignore[arg-type]
    before = sha256(root / "test.npz")
    r = run_cli(
        "score", str(root / "test.npz"), "-d", str(root / "det.safetensors"), "--json", str(root / "test.npz")
    )
    assert_one_clear_line(r, "test.npz", ["score"])  # type: ignore[arg-type]
    assert sha256(root / "test.npz") == before
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("skelprompt ")


# --- library: no clips, prompts as one string, non-finite numbers ---------------------------------


def test_score_without_clips_is_a_clear_error(files) -> None:
    with pytest.raises(ClipError, match="no clips to score"):
        files.det.score([])
    with pytest.raises(ClipError, match="no clips to score"):
        files.det.predict([], prompts="kicking")


def test_a_prompt_string_is_one_prompt(files) -> None:
    det, clips = files.det, files.test
    one = det.score(clips, prompts="kicking another person", normal_prompts="two people hugging")
    listed = det.score(clips, prompts=["kicking another person"], normal_prompts=["two people hugging"])
    assert one.prompts == ["kicking another person"] and one.normal_prompts == ["two people hugging"]
    np.testing.assert_array_equal(one.anomaly, listed.anomaly)
    np.testing.assert_array_equal(
        det.decision_function(clips, "kicking another person"),
        det.decision_function(clips, ["kicking another person"]),
    )
    np.testing.assert_array_equal(
        det.predict(clips, "kicking another person"), det.predict(clips, ["kicking another person"])
    )
    with pytest.raises(TypeError, match="prompts must be strings"):
        det.score(clips, prompts=["kicking", 3])  # type: ignore[list-item]


def _strict_json(text: str):
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_valid_json_even_with_nan(files, tmp_path) -> None:
    from skelprompt.commands.common import write_json
    from skelprompt.footage import score_clips, to_json

    write_json(tmp_path / "a.json", {"x": float("nan"), "y": np.float32("inf"), "z": np.array([1.0, np.nan])})
    assert _strict_json((tmp_path / "a.json").read_text()) == {"x": None, "y": None, "z": [1.0, None]}
    result = score_clips(files.det, files.test, progress=False)
    result.clips[0].anomaly = float("nan")
    data = to_json(result, files.det, "det.safetensors")
    assert data["clips"][0]["anomaly"] is None and data["detector"]["normal_clips"] == 12
    _strict_json(json.dumps(data, allow_nan=False))


def test_a_detector_with_nan_statistics_fails_at_load(files, tmp_path, capsys) -> None:
    import copy

    from skelprompt.detector import Detector

    bad = copy.copy(files.det)
    bad.normal_ood = files.det.normal_ood.copy()
    bad.normal_ood[3] = np.nan
    bad.save(tmp_path / "nan.safetensors")
    with pytest.raises(ModelError, match="not finite.*detector.normal_ood"):
        Detector.load(tmp_path / "nan.safetensors")
    args = [
        "score",
        str(files.root / "test.npz"),
        "-d",
        str(tmp_path / "nan.safetensors"),
        "--json",
        str(tmp_path / "s.json"),
    ]
    assert_one_clear_line(run_main(capsys, *args), "nan.safetensors", args)
    assert not (tmp_path / "s.json").exists()


def test_too_few_normal_clips_for_the_rate_warn(files, capsys, tmp_path) -> None:
    from skelprompt.detector.config import normal_clips_needed, too_few_normal_clips

    assert normal_clips_needed(1 / 7200) == 7200 and normal_clips_needed(0.01) == 100
    assert normal_clips_needed(0.0) == 0 and too_few_normal_clips(100, 0.01) is None
    assert "only 13 normal windows" in (too_few_normal_clips(13, 1 / 7200, "windows") or "")
    args = ["score", str(files.root / "test.npz"), "-d", str(files.root / "det.safetensors"),
            "--false-alarm-rate", "0.001", "--json", str(tmp_path / "s.json")]  # fmt: skip
    r = run_main(capsys, *args)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "only 12 normal clips" in r.stderr and "1000" in r.stderr
    assert _strict_json((tmp_path / "s.json").read_text())["detector"]["normal_clips"] == 12


# --- video: live windows on the real frames, drops counted, truncated files --------------------------


class RecordedStream:
    """A real FrameStream whose frames' source indices are noted as they are taken."""

    def __init__(self, stream) -> None:
        self.stream, self.indices = stream, []
        self.fps, self.size, self.reader = stream.fps, stream.size, stream.reader

    def __iter__(self):
        for frame in self.stream:
            self.indices.append(frame.index)
            yield frame


def test_live_windows_span_the_real_frames_when_frames_drop(files, tmp_path) -> None:
    pytest.importorskip("ai_edge_litert")
    from skelprompt.footage import FootageSettings, score_live
    from skelprompt.footage.live import stream_windows
    from skelprompt.video.stream import FrameStream

    length = 3  # frames: 0.3 s at the example's 10 fps; stride 0.1 s = 1 frame
    with FrameStream(EXAMPLE_VIDEO, maxsize=4) as stream:  # read faster than scored: frames drop
        rec = RecordedStream(stream)
        spans = []
        for clip in stream_windows(rec, 256, 0.3, 0.1):  # type: ignore[arg-type]
            taken = rec.indices[-length:]  # the window's frames: the last ones taken
            spans.append((clip.start_frame, clip.meta["end_frame"], taken[0], taken[-1] + 1))
    assert stream.dropped > 0 and len(spans) >= 2
    for start, end, first, past_last in spans:
        assert (start, end) == (first, past_last)
    assert any(end - start > length for start, end, _, _ in spans)  # a window over dropped frames

    lines = tmp_path / "live.jsonl"
    s = score_live(files.det, str(EXAMPLE_VIDEO), FootageSettings(0.3, 0.1, 256), jsonl=lines, queue_size=4)
    rows = [_strict_json(x) for x in lines.read_text().splitlines()]
    assert s.frames_read == 80 and s.dropped_frames > 0 and s.windows == len(rows) >= 1
    assert s.frames_scored + s.dropped_frames == s.frames_read  # every frame scored or dropped
    assert max(r["dropped_frames"] for r in rows) <= s.dropped_frames
    for r in rows:
        assert r["end_frame"] - r["start_frame"] >= length
        assert r["start_s"] == pytest.approx(r["start_frame"] / 10) and r["end_s"] == pytest.approx(
            r["end_frame"] / 10
        )


def _truncated_copy(path: Path) -> Path:
    """The example video with its index first and the second half of its frame data cut off:
    the header still announces 80 frames, the decoder finds fewer."""
    av = pytest.importorskip("av")
    whole = path.with_name("whole.mp4")
    with (
        av.open(str(EXAMPLE_VIDEO)) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_video_is_read_with_a_warning(tmp_path, capsys) -> None:
    pytest.importorskip("cv2")
    from skelprompt.video.reader import open_video
    from skelprompt.video.stream import FrameStream

    cut = _truncated_copy(tmp_path / "cut.mp4")
    with open_video(cut) as reader:  # the offline path (score VIDEO, fit, extract)
        n = sum(1 for _ in reader)
    assert 0 < n < 80 and reader.frames_missing == 80 - n
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "cut.mp4" in warnings[0] and f"{n} of the 80 frames" in warnings[0]
    with FrameStream(cut, maxsize=100) as stream:  # the live path
        assert sum(1 for _ in stream) == n
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and f"{n} of the 80 frames" in warnings[0]
    with open_video(EXAMPLE_VIDEO) as reader:  # a whole file: no warning
        assert sum(1 for _ in reader) == 80 and reader.frames_missing == 0
    with open_video(cut, max_frames=10) as reader:  # stopped early on purpose: no warning
        assert sum(1 for _ in reader) == 10
    assert "warning:" not in capsys.readouterr().err


def test_cli_reads_a_truncated_video_with_one_warning(files, tmp_path) -> None:
    pytest.importorskip("ai_edge_litert")
    cut = _truncated_copy(tmp_path / "cut.mp4")
    r = run_cli("extract", str(cut), "--out", str(tmp_path / "c.npz"), "-q")
    assert r.returncode == 0, r.stderr
    warnings = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "cut.mp4" in warnings[0] and "of the 80 frames" in warnings[0]
