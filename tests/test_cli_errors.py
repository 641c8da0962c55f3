"""Every bad input gets one clear line and exit code 2, and nothing the user saved is lost.

Most invocations run in this process through ``skelprompt.cli.main`` (the entry point itself:
argument parsing, our checks and the error handling); a few run as real subprocesses. Live
windows over dropped frames and truncated videos are tested in test_footage.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
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


def warnings_in(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.startswith("warning:")]


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
    fake = root / "fake_root" / "sbu_kinect_interaction"  # a data set folder: any file in it may be read
    fake.mkdir(parents=True)
    (fake / "x.npz").write_bytes(b"a data file")
    (root / "link.npz").symlink_to(root / "normal.npz")
    names = {"n": "normal.npz", "t": "test.npz", "d": "det.safetensors", "v": "v.mp4", "o": "never_written"}
    fill = {k: str(root / v) for k, v in {**names, "folder": "folder", "link": "link.npz"}.items()}
    fill.update(root=str(root), fake_root=str(root / "fake_root"))
    return SimpleNamespace(root=root, det=det, test=[c for c in clips if c.label == "kicking"][:4], fill=fill)


def _args(files: SimpleNamespace, case: str) -> list[str]:
    """A case's words with {n} normal.npz, {t} test.npz, {d} the detector, {v} the video,
    {o} a path never written, ... filled in."""
    return [w.format(**files.fill) for w in case.split()]


# --- usage: missing, unknown and out-of-range options --------------------------------------------

# (arguments, what the error line must name); see _args for the {names}
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
    ("fit {n} --out {o} --bank-size 3", "--bank-size"),
    ("fit {n} --out {o} --bank-size -1", "--bank-size"),
    ("benchmark sbu-violence --bank-size 5", "--bank-size"),
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


def test_usage_errors_name_the_option_with_exit_code_2(files, capsys) -> None:
    for case, names in USAGE_CASES:
        args = _args(files, case)
        assert_one_clear_line(r := run_main(capsys, *args), names, args)
        assert "Usage: skelprompt" in r.stderr, (args, r.stderr)
    assert not list(files.root.glob("never_written*"))


def test_no_arguments_prints_help_and_version_prints_the_version(capsys) -> None:
    from skelprompt import __version__

    r = run_main(capsys)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr
    assert "fit" in r.stdout + r.stderr and "score" in r.stdout + r.stderr
    r = run_main(capsys, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"skelprompt {__version__}"


def test_verbose_shows_the_pose_runtime_banner(tmp_path) -> None:
    """--verbose before the command shows what the pose runtime prints at start-up (hidden
    otherwise, see test_first_run)."""
    pytest.importorskip("ai_edge_litert")
    from skelprompt.video.pose import VERBOSE_ENV

    env = {k: v for k, v in os.environ.items() if k != VERBOSE_ENV}
    args = [
        "--verbose",
        "extract",
        str(EXAMPLE_VIDEO),
        "--out",
        str(tmp_path / "q.npz"),
        "--max-frames",
        "2",
        "-q",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "skelprompt.cli", *args], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0 and "TensorFlow Lite" in r.stderr, r.stderr


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
    before = {p: sha256(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    for case, names, kept in OUTPUT_CASES:
        args = _args(files, case)
        assert_one_clear_line(run_main(capsys, *args), names, args)
        assert sha256(root / kept) == before[root / kept], args
    after = {p: sha256(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before  # nothing written, nothing changed


OTHER_KIND_CASES = [
    ("score {t} -d {d} --plot {root}/p.png", "--plot"),
    ("score {t} -d {d} --jsonl {root}/l.jsonl", "--jsonl"),
    ("score {v} -d {d} --live --json {root}/s.json", "--json"),
    ("score {v} -d {d} --max-frames 5", "--max-frames"),
    ("score {v} {t} -d {d}", "test.npz"),
    ("score {v} {v} -d {d} --plot {root}/p.png", "--plot"),
]


def test_options_for_another_kind_of_input_are_errors(files, capsys) -> None:
    for case, names in OTHER_KIND_CASES:
        args = _args(files, case)
        assert_one_clear_line(run_main(capsys, *args), names, args)
    assert not any((files.root / n).exists() for n in ("p.png", "l.jsonl", "s.json"))


# --- bad files -----------------------------------------------------------------------------------


BAD_FILE_CASES = [
    ("extract {root}/bad/empty.mp4 --out {o}.npz", "empty.mp4"),
    ("score {root}/bad/text.npz -d {d}", "text.npz"),
    ("score {t} -d {root}/bad/text.safetensors", "text.safetensors"),
    ("score {t} -d {root}/bad", "bad"),
    ("inspect {root}/bad/missing.npz", "missing.npz"),
    ("fit {root}/bad/text.npz --untrained --out {o}", "text.npz"),
    ("fit {root}/bad/nothing --untrained --out {o}", "nothing"),  # an empty folder
]


def test_bad_files_are_one_line_naming_the_file(files, capsys) -> None:
    bad = files.root / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "text.npz").write_text("hello")
    (bad / "text.safetensors").write_text("hello")
    (bad / "nothing").mkdir(exist_ok=True)
    for case, names in BAD_FILE_CASES:
        args = _args(files, case)
        assert_one_clear_line(run_main(capsys, *args), names, args)
    assert not list(files.root.glob("never_written*"))


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
    for method in (det.decision_function, det.predict):
        np.testing.assert_array_equal(
            method(clips, "kicking another person"), method(clips, ["kicking another person"])
        )
    with pytest.raises(TypeError, match="prompts must be strings"):
        det.score(clips, prompts=["kicking", 3])


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
    args = _args(files, f"score {{t}} -d {tmp_path}/nan.safetensors --json {tmp_path}/s.json")
    assert_one_clear_line(run_main(capsys, *args), "nan.safetensors", args)
    assert not (tmp_path / "s.json").exists()


def test_too_few_normal_clips_for_the_rate_warn(files, capsys, tmp_path) -> None:
    from skelprompt.detector.config import normal_clips_needed, too_few_normal_clips

    assert normal_clips_needed(1 / 7200) == 7200 and normal_clips_needed(0.01) == 100
    assert normal_clips_needed(0.0) == 0 and too_few_normal_clips(100, 0.01) is None
    assert "only 13 normal windows" in (too_few_normal_clips(13, 1 / 7200, "windows") or "")
    args = _args(files, f"score {{t}} -d {{d}} --false-alarm-rate 0.001 --json {tmp_path}/s.json")
    r = run_main(capsys, *args)
    (warning,) = warnings_in(r.stderr)
    assert r.returncode == 0 and "only 12 normal clips" in warning and "at least 1000" in warning
    assert _strict_json((tmp_path / "s.json").read_text())["detector"]["normal_clips"] == 12
