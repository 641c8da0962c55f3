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

# Each command group lives in skelprompt.commands.<name> and registers itself here.
_COMMAND_MODULES = ["fit", "score", "inspect", "data", "extract", "pretrain", "benchmark"]


def _register_all() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(f"skelprompt.commands.{name}").register(app)


def main() -> None:
    """Entry point: run the app, turning user errors into one clear line and exit code 2."""
    _register_all()
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
