"""`fit`'s detector options are made from the DetectorConfig fields: each field is an option
with its help, choices and range, checked as the config checks it, so a new detector option is
one field (plus its test)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from skelprompt.commands.config_options import config_options
from skelprompt.commands.fit import fit
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.config import SCORE_TIME_FIELDS, option
from skelprompt.io import save_clips
from tests.helpers import sbu_clips
from tests.test_cli_errors import assert_one_clear_line, run_main


@dataclass
class _WithNewOption(DetectorConfig):
    """DetectorConfig with one more field, as a contributor would add it."""

    smoothing: float = option(0.5, "Temporal smoothing of the OoD score.", min=0.0, max=1.0)
    window_votes: int = option(3, "Windows that must agree before an alert.", min=1, score_time=True)


def _app(cls: type) -> tuple[typer.Typer, list[dict[str, Any]]]:
    """A one-command app whose options are made from ``cls``; the values it receives are kept."""
    seen: list[dict[str, Any]] = []
    app = typer.Typer(add_completion=False)

    @app.command()
    @config_options(cls, into="options")
    def run(name: str, options: dict[str, Any], verbose: bool = False) -> None:
        cls(**options)  # the options together make a valid config
        seen.append({"name": name, "verbose": verbose, **options})

    return app, seen


def test_a_new_field_is_an_option_with_its_help_range_and_check() -> None:
    app, seen = _app(_WithNewOption)
    helps = {tuple(p.opts): getattr(p, "help", None) for p in typer.main.get_command(app).params}
    assert helps[("--smoothing",)] == "Temporal smoothing of the OoD score. Range: in [0, 1]."
    assert helps[("--window-votes",)] == "Windows that must agree before an alert. Range: at least 1."
    assert helps[("--k",)] == "Neighbours for the k-NN OoD score. Range: at least 1."  # inherited ones too
    assert str(helps[("--ood",)]).startswith("OoD score: knn, mahalanobis")  # other tests register more
    runner = CliRunner()
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "--smoothing" in r.output and "--window-votes" in r.output

    r = runner.invoke(app, ["cam", "--smoothing", "0.25", "--window-votes", "2", "--k", "3"])
    assert r.exit_code == 0, r.output
    assert seen[-1]["smoothing"] == 0.25 and seen[-1]["window_votes"] == 2 and seen[-1]["k"] == 3
    assert seen[-1]["ood"] == "knn" and seen[-1]["name"] == "cam"  # the others keep their defaults

    for args, named in (
        (["--smoothing", "1.5"], "smoothing must be in [0, 1], got 1.5"),
        (["--smoothing", "nan"], "smoothing must be of type float"),
        (["--window-votes", "0"], "window_votes must be at least 1, got 0"),
    ):
        with pytest.raises(typer.BadParameter) as refused:
            typer.main.get_command(app).main(["cam", *args], standalone_mode=False)
        message = refused.value.format_message()
        assert refused.value.exit_code == 2 and named in message and args[0] in message, (args, message)
    assert "window_votes" in [f.name for f in fields(_WithNewOption) if f.metadata.get("score_time")]


def test_every_detector_field_is_a_fit_option_with_the_configs_default() -> None:
    params = inspect.signature(fit).parameters
    for f in fields(DetectorConfig):
        assert f.metadata.get("help"), f"DetectorConfig.{f.name} needs a help (detector.config.option)"
        assert params[f.name].default == f.default, f.name
    assert "detector_options" not in params
    fit_time = {"ood", "k", "ood_features", "pose_persons", "pose_order_by_x", "symmetric", "normalize_features",
                "bank_size"}  # fmt: skip
    assert not fit_time & set(SCORE_TIME_FIELDS)
    assert set(SCORE_TIME_FIELDS) >= {
        "combine", "prompt_evidence", "prompt_ensemble", "prompt_guard", "prompt_weight",
        "normal_weight", "calibration_percentile", "false_alarm_rate",
    }  # fmt: skip


def test_fit_options_reach_the_saved_detector(tmp_path: Path, capsys) -> None:
    normal = tmp_path / "normal.npz"
    save_clips(normal, [c for c in sbu_clips() if c.label == "hugging"][:12])
    out = tmp_path / "d.safetensors"
    r = run_main(
        capsys, "fit", str(normal), "--untrained", "--out", str(out), "--pose-persons", "1",
        "--no-prompt-ensemble", "--calibration-percentile", "95", "--k", "3", "--false-alarm-rate", "0.1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cfg = Detector.load(out).config
    assert (cfg.pose_persons, cfg.prompt_ensemble, cfg.calibration_percentile) == (1, False, 95.0)
    assert (cfg.k, cfg.false_alarm_rate, cfg.symmetric) == (3, 0.1, True)


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--calibration-percentile", "101"], "--calibration-percentile"),
        (["--pose-persons", "0"], "--pose-persons"),
        (["--prompt-guard", "nope"], "--prompt-guard"),
        (["--prompt-evidence", "nope"], "--prompt-evidence"),
    ],
)
def test_new_fit_options_refuse_bad_values_in_one_line(tmp_path: Path, capsys, args, names) -> None:
    r = run_main(capsys, "fit", str(tmp_path / "n.npz"), "--out", str(tmp_path / "d.safetensors"), *args)
    assert_one_clear_line(r, names, args)
    assert not (tmp_path / "d.safetensors").exists()
