"""The web app: REST API (OpenAPI schema at /openapi.json), a server-sent event stream of
window scores and alerts, and the page at ``/``."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from skelprompt import __version__
from skelprompt.service import models
from skelprompt.service.service import Service

STATIC = Path(__file__).with_name("static")
EVENT_POLL_S = 0.25
AlertId = Annotated[int, PathParam(ge=1, le=2**62)]
_bearer = HTTPBearer(auto_error=False, description="The token given to `skelprompt serve --token`.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": models.Problem, "description": "Malformed request"},
    404: {"model": models.Problem, "description": "No such camera or alert"},
}
_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": models.Problem, "description": "Token missing or wrong"},
}


def create_app(service: Service, start: bool = True) -> FastAPI:
    """The app over ``service``; with ``start``, the cameras run while the app does."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start:
            service.start()
        try:
            yield
        finally:
            if start:
                service.stop()

    app = FastAPI(title="skelprompt serve", version=__version__, lifespan=lifespan)

    def require_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        token = service.config.token
        if creds is None or not token or not hmac.compare_digest(creds.credentials.encode(), token.encode()):
            raise HTTPException(
                401, "a valid token is needed: Authorization: Bearer TOKEN", {"WWW-Authenticate": "Bearer"}
            )

    def camera(name: str) -> Any:
        cam = service.cameras.get(name)
        if cam is None:
            raise HTTPException(404, f"no camera named {name!r}")
        return cam

    def alert_row(alert_id: int) -> Any:
        row = service.store.get(alert_id)
        if row is None:
            raise HTTPException(404, f"no alert {alert_id}")
        return row

    @app.get("/api/health", response_model=models.Health)
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/api/cameras", response_model=list[models.Camera])
    def cameras() -> list[dict[str, Any]]:
        return [service.camera_json(c) for c in service.cameras.values()]

    @app.post(
        "/api/cameras/{name}/prompts", response_model=models.Camera, responses=_CHANGE_ERRORS,
        dependencies=[Depends(require_token)],
    )  # fmt: skip
    def change_prompts(name: str, body: models.PromptChange) -> dict[str, Any]:
        """Change what a camera looks for, live: the next window is scored with it."""
        cam = camera(name)
        cam.prompts.set(body.prompts, body.normal_prompts, body.alarms_per_hour)
        return service.camera_json(cam)

    @app.get("/api/alerts", response_model=list[models.Alert], responses=_ERRORS)
    def alerts(
        camera: str | None = None,
        since: Annotated[datetime | None, Query(description="Alerts recorded at or after (ISO 8601)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        t = None if since is None else (since if since.tzinfo else since.astimezone()).timestamp()
        return [service.alert_json(r) for r in service.store.alerts(camera, t, limit)]  # type: ignore[misc]

    @app.get("/api/alerts/{alert_id}", response_model=models.Alert, responses=_ERRORS)
    def alert(alert_id: AlertId) -> dict[str, Any] | None:
        return service.alert_json(alert_row(alert_id))

    @app.post(
        "/api/alerts/{alert_id}/ack", response_model=models.Alert, responses=_CHANGE_ERRORS,
        dependencies=[Depends(require_token)],
    )  # fmt: skip
    def acknowledge(alert_id: AlertId) -> dict[str, Any] | None:
        alert_row(alert_id)
        service.store.acknowledge(alert_id)
        service.events.publish({"type": "ack", "id": alert_id})
        return service.alert_json(alert_id)

    def evidence(alert_id: int, kind: str, media_type: str) -> FileResponse:
        path = service.evidence_path(alert_row(alert_id), kind)
        if path is None:
            raise HTTPException(404, f"alert {alert_id} has no {kind} (yet)")
        return FileResponse(path, media_type=media_type)

    ok_video = {200: {"content": {"video/mp4": {}}, "description": "H.264 MP4"}, **_ERRORS}
    ok_image = {200: {"content": {"image/jpeg": {}}, "description": "JPEG"}, **_ERRORS}

    @app.get("/api/alerts/{alert_id}/clip.mp4", response_class=FileResponse, responses=ok_video)
    def clip(alert_id: AlertId) -> FileResponse:
        """The alert span plus a margin, skeletons drawn (H.264, plays in browsers)."""
        return evidence(alert_id, "clip", "video/mp4")

    @app.get("/api/alerts/{alert_id}/snapshot.jpg", response_class=FileResponse, responses=ok_image)
    def snapshot(alert_id: AlertId) -> FileResponse:
        return evidence(alert_id, "snapshot", "image/jpeg")

    _add_page_routes(app, service)
    return app


def _add_page_routes(app: FastAPI, service: Service) -> None:
    """The page, its script and the event stream (not part of the API schema)."""

    @app.get("/api/events", include_in_schema=False)
    async def events() -> StreamingResponse:
        """Server-sent events: ``window`` (a camera's window score), ``alert`` and ``ack``."""
        return StreamingResponse(_event_stream(service), media_type="text/event-stream")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


async def _event_stream(service: Service) -> AsyncIterator[str]:
    seen = max(0, service.events.last - 200)  # a little history for a page that just opened
    yield "retry: 1000\n\n"
    while True:
        for seq, e in service.events.since(seen):
            seen = seq
            yield f"id: {seq}\nevent: {e['type']}\ndata: {json.dumps(e)}\n\n"
        await asyncio.sleep(EVENT_POLL_S)
