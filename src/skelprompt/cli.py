"""The ``skelprompt`` command line: thin wrappers that parse arguments and call the library.

Every bad input ends in one clear line and exit code 2: usage errors (unknown command or
option, a missing or out-of-range value) in click's form, our own errors as ``error: ...``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, NoReturn

import typer

from skelprompt import __version__
from skelprompt.errors import SkelpromptError

app = typer.Typer(
    help="Find anomalous human actions in skeleton clips and video, guided by words.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command (or group) lives in skelprompt.commands.<its name> and registers itself here.
_COMMAND_MODULES = [
    "fit", "score", "inspect", "data", "extract", "pretrain", "benchmark", "serve", "prompts", "feedback",
]  # fmt: skip
_registered: set[str] = set()
USAGE_EXIT_CODE = 2  # click's code for usage errors; ours for every bad input

# typer >= 0.20 ships its own copy of click, so `import click` would give other classes than
# the ones typer raises: take click's base exception from what typer really raises
ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"skelprompt {__version__}")
        raise typer.Exit()


@app.callback()
def _app(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show the pose runtime's own start-up messages.")
    ] = False,
) -> None:
    # a callback keeps the app a group of commands even when only one is registered
    if verbose:
        from skelprompt.video.pose import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"


def _command_name(argv: list[str]) -> str | None:
    """The command named on the command line: the first word that is not a (global) flag."""
    return next((a for a in argv if not a.startswith("-")), None)


def _register_all(argv: list[str] | None = None) -> None:
    """Register the command named in ``argv`` alone, or all of them for the overview: some
    command modules import torch (e.g. `fit` reads its defaults from DetectorConfig), which
    the other commands need not wait for. ``--version`` alone needs none."""
    import importlib

    argv = argv or []
    name = _command_name(argv)
    if name is None and "--version" in argv:
        return
    names = [name] if name in _COMMAND_MODULES else _COMMAND_MODULES
    for n in names:
        if n not in _registered:  # main() may run more than once in a process (tests)
            importlib.import_module(f"skelprompt.commands.{n}").register(app)
            _registered.add(n)


class _StderrLines(logging.Handler):
    """The library's log messages as plain lines on the current ``sys.stderr`` (tests swap it),
    written through tqdm so that a progress bar on screen is not torn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never end the command
            self.handleError(record)


def _show_library_messages() -> None:
    """Messages of the ``skelprompt`` loggers (progress notes, warnings) go to stderr, as the
    command's own lines; they also propagate to any handler the caller set up."""
    logger = logging.getLogger("skelprompt")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):  # main() may run again
        logger.addHandler(_StderrLines())
    logger.setLevel(logging.INFO)


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    sys.exit(USAGE_EXIT_CODE)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every bad input into one clear line and exit code 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    _show_library_messages()
    _register_all(args)
    try:
        code = app(args=args, prog_name="skelprompt", standalone_mode=False)
    except SkelpromptError as e:
        _fail(str(e))
    except ClickException as e:  # usage errors: click's usage line and message
        e.show()  # type: ignore[attr-defined]
        sys.exit(getattr(e, "exit_code", USAGE_EXIT_CODE))
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except OSError as e:  # a file we could not read or write (permissions, full disk, ...)
        if e.filename is None:
            raise
        _fail(f"{e.filename}: {e.strerror or e}")
    # without standalone mode, typer returns the exit code of --help, --version, Ctrl-C, ...
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
