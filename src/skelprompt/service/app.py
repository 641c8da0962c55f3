"""The web app: REST API (OpenAPI schema at /openapi.json), a server-sent event stream of
window scores and alerts, and the page at ``/``."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from skelprompt import __version__
from skelprompt.errors import SkelpromptError
from skelprompt.service import models
from skelprompt.service.feedback import FeedbackConflict
from skelprompt.service.service import Service
from skelprompt.service.tiles import TilePictures
from skelprompt.service.zones import Zone

STATIC = Path(__file__).with_name("static")
EVENT_POLL_S = 0.25
_T = TypeVar("_T")
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
_FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_CHANGE_ERRORS,
    409: {
        "model": models.Problem,
        "description": "Verdict given already, undone already, or no windows kept",
    },
    503: {"model": models.Problem, "description": "The feedback file cannot be read or written"},
}
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]


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

    _add_feedback_routes(app, service, require_token, alert_row)
    _add_tile_routes(app, service, require_token, camera)
    _add_page_routes(app, service)
    return app


def _feedback_call(fn: Callable[[], _T]) -> _T:
    """``fn()`` with feedback errors as HTTP answers: 409 for a conflict, 503 for a file problem."""
    try:
        return fn()
    except FeedbackConflict as e:
        raise HTTPException(409, str(e)) from None
    except SkelpromptError as e:
        raise HTTPException(503, str(e)) from None


def _add_feedback_routes(app: FastAPI, service: Service, require_token: Any, alert_row: Any) -> None:
    desk = service.feedback

    @app.post(
        "/api/alerts/{alert_id}/feedback", response_model=models.Alert, responses=_FEEDBACK_ERRORS,
        dependencies=[Depends(require_token)],
    )  # fmt: skip
    def give_feedback(alert_id: AlertId, body: models.Verdict) -> dict[str, Any] | None:
        """True or false alarm: a false alarm's windows join the detector's normal set at once (no
        refit; the threshold follows); a true alarm's are kept as anomaly examples. Recorded
        (who, when, which alert) in the detector's feedback file; undo with /api/feedback/ID/undo."""
        row = alert_row(alert_id)
        rec = _feedback_call(lambda: desk.verdict(row, body.verdict, body.by, body.note))
        service.events.publish({"type": "feedback", "id": alert_id, "record": rec.id})
        return service.alert_json(alert_id)

    @app.get("/api/feedback", response_model=list[models.Feedback])
    def feedback_records() -> list[dict[str, Any]]:
        """Every verdict and undo, oldest first."""
        return [desk.record_json(r) for r in desk.log.records]

    @app.post(
        "/api/feedback/{record_id}/undo", response_model=models.Feedback, responses=_FEEDBACK_ERRORS,
        dependencies=[Depends(require_token)],
    )  # fmt: skip
    def undo_feedback(record_id: RecordId, body: models.Undo) -> dict[str, Any]:
        """Take a verdict back: the detector is as if it had not been given (itself a record)."""
        if not any(r.id == record_id for r in desk.log.records):
            raise HTTPException(404, f"no feedback record {record_id}")
        rec = _feedback_call(lambda: desk.undo(record_id, body.by))
        service.events.publish({"type": "feedback", "record": rec.id})
        return desk.record_json(rec)


def _add_tile_routes(app: FastAPI, service: Service, require_token: Any, camera: Any) -> None:
    pictures = TilePictures()
    ok_image = {200: {"content": {"image/jpeg": {}}, "description": "JPEG"}, **_ERRORS}

    @app.get("/api/cameras/{name}/frame.jpg", response_class=Response, responses=ok_image)
    def frame(name: str) -> Response:
        """The camera's newest processed frame with the tracked skeletons drawn."""
        cam = camera(name)
        latest = cam.latest_frame
        if latest is None:
            raise HTTPException(404, f"camera {name!r} has no frame yet")
        data = pictures.picture(name, latest, cam._tracker_alerts.layout)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/cameras/{name}/zones", response_model=models.Zones, responses=_ERRORS)
    def zones(name: str) -> dict[str, Any]:
        """Where the camera's alerts count or are ignored (by each person's feet point)."""
        camera(name)
        return {"zones": [z.to_json() for z in service.zones.get(name)]}

    @app.put(
        "/api/cameras/{name}/zones", response_model=models.Zones, responses=_CHANGE_ERRORS,
        dependencies=[Depends(require_token)],
    )  # fmt: skip
    def set_zones(name: str, body: models.Zones) -> dict[str, Any]:
        """Replace the camera's zones (from the next window on; kept across restarts)."""
        camera(name)
        service.zones.set(name, [Zone(z.kind, tuple((p[0], p[1]) for p in z.points)) for z in body.zones])
        service.events.publish({"type": "zones", "camera": name})
        return {"zones": [z.to_json() for z in service.zones.get(name)]}


def _add_page_routes(app: FastAPI, service: Service) -> None:
    """The page, its script and the event stream (not part of the API schema)."""

    @app.get("/api/events", include_in_schema=False)
    async def events() -> StreamingResponse:
        """Server-sent events: ``window`` (a camera's window score), ``alert``, ``ack``,
        ``feedback`` (a verdict or an undo) and ``zones`` (a camera's zones changed)."""
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
