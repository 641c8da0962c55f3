"""`skelprompt serve`: watch cameras, keep alerts with their evidence, serve a page and an API."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer

from skelprompt.commands.options import (
    AnomalyPrompts,
    DetectorFile,
    NormalPrompts,
    pose_input_size,
    positive_seconds,
)
from skelprompt.commands.prompts import LearnedPromptFile, load_learned
from skelprompt.errors import SkelpromptError
from skelprompt.service.config import (
    DEFAULT_DB,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_POSE_FPS,
    CameraSpec,
    ServiceConfig,
    parse_camera,
)

SERVICE_INSTALL = "pip install 'skelprompt[service]'"


def serve(
    detector: DetectorFile,
    camera: Annotated[
        list[str],
        typer.Option(help="NAME=SOURCE: a webcam index, an RTSP/HTTP URL or a video file (repeatable)."),
    ],
    prompt: AnomalyPrompts = None,
    normal_prompt: NormalPrompts = None,
    db: Annotated[
        str, typer.Option(help="SQLite file or SQLAlchemy URL for alerts; clips go beside a file.")
    ] = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on (local only by default).")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = DEFAULT_PORT,
    token: Annotated[
        str | None,
        typer.Option(help="Token for requests that change something (default: a random one, printed)."),
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="POST each alert as JSON to this URL.")] = None,
    pose_fps: Annotated[
        float,
        typer.Option(help="Pose estimation rate per camera (frames per second).", callback=positive_seconds),
    ] = DEFAULT_POSE_FPS,
    pose_input: Annotated[
        int | None,
        typer.Option(help="Pose model input size (default: the detector's).", callback=pose_input_size),
    ] = None,
    alarms_per_hour: Annotated[
        float | None,
        typer.Option(
            help="Threshold: alarms per hour on normal footage (default: the detector's).",
            callback=positive_seconds,
        ),
    ] = None,
    loop: Annotated[bool, typer.Option(help="Play video files again from the start when they end.")] = False,
    learned_prompt: LearnedPromptFile = None,
) -> None:
    """Watch cameras: live scores and alerts on a web page at http://HOST:PORT/, a REST API
    (schema at /openapi.json), alerts with their clips kept in a database, webhooks."""
    specs = [parse_camera(c) for c in camera]
    _check_cameras(specs)
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise SkelpromptError(f"--webhook {webhook!r}: give an http:// or https:// URL")
    load_learned(learned_prompt)  # a bad file fails before the port is taken
    sock = _bind(host, port)
    try:
        _require_service_packages()
        token = token or secrets.token_urlsafe(16)
        config = ServiceConfig(
            detector=detector, cameras=specs, prompts=list(prompt or []), normal_prompts=list(normal_prompt or []),
            db=db, token=token, webhook=webhook, pose_fps=pose_fps, pose_input=pose_input, loop=loop,
            alarms_per_hour=alarms_per_hour, learned_prompt=learned_prompt,
        )  # fmt: skip
        _run(config, sock, host, port)
    finally:
        sock.close()


def _check_cameras(specs: list[CameraSpec]) -> None:
    from skelprompt.footage.sources import is_stream

    seen: set[str] = set()
    for c in specs:
        if c.name in seen:
            raise SkelpromptError(f"--camera {c.name}: two cameras have this name")
        seen.add(c.name)
        if not is_stream(c.source) and not Path(c.source).is_file():
            raise SkelpromptError(f"{c.source}: camera {c.name}: no such video file")


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the slow start-up so a taken port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise SkelpromptError(f"{host}:{port}: cannot listen there: {e.strerror or e}") from None
    return sock


def _require_service_packages() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise SkelpromptError(f"serve needs {e.name}: {SERVICE_INSTALL}") from None


def _run(config: ServiceConfig, sock: socket.socket, host: str, port: int) -> None:
    import uvicorn

    from skelprompt.service.app import create_app
    from skelprompt.service.service import Service

    service = Service(config)  # loads the detector: bad files fail here, before listening
    if service.recovered:
        typer.echo(
            f"{service.recovered} alert(s) left open by a stopped service marked interrupted", err=True
        )
    shown = host if ":" not in host else f"[{host}]"
    typer.echo(f"skelprompt serve: http://{shown}:{port}/  token: {config.token}", err=True)
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning"))
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command()(serve)
