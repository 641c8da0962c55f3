"""The ``skelprompt`` command line: thin wrappers that parse arguments and call the library."""

from __future__ import annotations

import sys

import typer

from skelprompt.errors import SkelpromptError

app = typer.Typer(
    help="Find anomalous human actions in skeleton clips and video, guided by words.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command (or group) lives in skelprompt.commands.<its name> and registers itself here.
_COMMAND_MODULES = ["fit", "score", "inspect", "data", "extract", "pretrain", "benchmark"]


@app.callback()
def _app() -> None:
    # a callback keeps the app a group of commands even when only one is registered
    pass


def _register_all(argv: list[str] | None = None) -> None:
    """Register the command named in ``argv`` alone, or all of them for the overview: some
    command modules import torch (e.g. `fit` reads its defaults from DetectorConfig), which
    the other commands need not wait for."""
    import importlib

    names = [argv[0]] if argv and argv[0] in _COMMAND_MODULES else _COMMAND_MODULES
    for name in names:
        importlib.import_module(f"skelprompt.commands.{name}").register(app)


def main() -> None:
    """Entry point: run the app, turning user errors into one clear line and exit code 2."""
    _register_all(sys.argv[1:])
    try:
        app(standalone_mode=False)
    except SkelpromptError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(1)
    except Exception as e:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
