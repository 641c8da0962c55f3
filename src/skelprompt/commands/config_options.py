"""Command-line options made from a config dataclass's fields: a field declared with
:func:`skelprompt.detector.config.option` (default, help, choices, range) is one option, with
that help, its choices and range in the help, and the config's own checks on its value, so a
new detector option is one field.

    @config_options(DetectorConfig, into="detector_options")
    def fit(normal: ..., detector_options: dict[str, Any], window_length: ... = ...) -> None:
        cfg = DetectorConfig(**detector_options)

The command's parameter ``into`` is replaced, in the signature typer reads, by one keyword
parameter per field (``--field-name``; ``--name/--no-name`` for a bool); the command receives
their values as one dict.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from dataclasses import Field, fields
from typing import Annotated, Any, TypeVar

import typer

from skelprompt.detector.config import choices_of, range_text

F = TypeVar("F", bound=Callable[..., Any])


def option_help(f: Field[Any]) -> str:
    """The help of the field's option: its ``help`` with ``{choices}`` filled in, and its range."""
    text = str(f.metadata["help"])
    choices = choices_of(f)
    if choices is not None:
        text = text.replace("{choices}", ", ".join(choices))
    limits = range_text(f)
    return f"{text} Range: {limits}." if limits else text


def value_check(cls: type, name: str) -> Callable[[Any], Any]:
    """A typer callback: the value is checked by building ``cls`` with it (so the command line
    and the library accept the same values); a refusal is a usage error naming the option."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        try:
            cls(**{name: value})
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        return value

    return check


def field_parameter(cls: type, f: Field[Any], default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """The keyword parameter typer turns into the field's option; ``default`` (e.g. None:
    "the detector's own") replaces the field's default, the type is then optional."""
    kind = type(f.default)
    given = f.default if default is inspect.Parameter.empty else default
    annotation = kind if given is not None else kind | None
    info = typer.Option(help=option_help(f), callback=value_check(cls, f.name))
    return inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, default=given, annotation=Annotated[annotation, info]
    )


def option_fields(cls: type, skip: Collection[str] = ()) -> list[Field[Any]]:
    """The fields of ``cls`` that are options: each declares its help."""
    return [f for f in fields(cls) if f.name not in skip and "help" in f.metadata]


def config_options(cls: type, into: str, skip: Collection[str] = ()) -> Callable[[F], F]:
    """Give the decorated command one option per field of ``cls`` (those in ``skip`` left
    out), in place of its parameter ``into``, which receives ``{field name: value}``."""

    def decorate(command: F) -> F:
        generated = [field_parameter(cls, f) for f in option_fields(cls, skip)]
        names = [p.name for p in generated]
        own = inspect.signature(command, eval_str=True).parameters
        if into not in own or not generated:
            raise TypeError(
                f"{command.__name__} has no parameter {into!r}, or {cls.__name__} no option fields"
            )
        params: list[inspect.Parameter] = []
        for p in own.values():
            if p.name == into:
                params.extend(generated)
            else:  # keyword-only: generated ones with defaults may precede ones without
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            kwargs[into] = {n: kwargs.pop(n) for n in names}
            return command(**kwargs)

        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper  # type: ignore[return-value]

    return decorate
