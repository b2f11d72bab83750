"""The twin HTTP API (FastAPI): alerts — list, filter, read, acknowledge, comment, resolve — and their routing.

`create_app(manager, tokens)` builds the app around a running AlertManager; the alert
service serves it with uvicorn in the same event loop (so the API reads and changes the
same state the manager works on, without a second writer on the SQLite file).
OpenAPI at /docs and /openapi.json.

No `from __future__ import annotations` here: FastAPI reads the route functions'
annotations at run time, and the role dependencies are local to create_app.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, status
from fastapi.requests import Request
from fastapi.responses import JSONResponse

from analytics.alerts.errors import AlertNotFound, AlertsConfigError, InvalidTransition
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import AlertState
from api.auth import ApiToken, Principal, Role, TokenAuth
from api.schemas import (
    AckIn,
    AlertDetail,
    AlertOut,
    CommentIn,
    DeliveryOut,
    HistoryOut,
    Problem,
    ResolveIn,
    Routing,
    WindowIn,
    WindowOut,
)
from twin.events import Severity

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "no token, or an unknown one"},
    403: {"model": Problem, "description": "the token's role is too low"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem, "description": "no such alert"}}
CONFLICT: dict[int | str, dict[str, object]] = {409: {"model": Problem, "description": "not allowed in this state"}}

TAGS = [
    {"name": "alerts", "description": "Alerts raised by SPC, PdM, energy, threshold and connectivity checks."},
    {"name": "maintenance", "description": "Maintenance windows that silence alerts of an asset subtree."},
    {"name": "routing", "description": "Which channels hear about which alerts (admin)."},
    {"name": "health", "description": "Liveness."},
]


def create_app(manager: AlertManager, tokens: list[ApiToken]) -> FastAPI:
    """The API around one alert manager, with these tokens."""
    auth = TokenAuth(tokens)
    viewer = Annotated[Principal, Depends(auth.require(Role.VIEWER))]
    maintainer = Annotated[Principal, Depends(auth.require(Role.MAINTAINER))]
    admin = Annotated[Principal, Depends(auth.require(Role.ADMIN))]
    AlertId = Annotated[int, Path(description="alert id", ge=1)]

    app = FastAPI(title="factory-twin API", version="1", openapi_tags=TAGS,
                  description="Alerts that reach maintenance staff. Authenticate with `Authorization: Bearer "
                              "<token>`; tokens and roles come from TWIN_API_TOKENS.")

    @app.exception_handler(AlertNotFound)
    async def _not_found(request: Request, exc: AlertNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(InvalidTransition)
    async def _conflict(request: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    def detail(alert_id: int) -> AlertDetail:
        a = manager.get(alert_id)
        return AlertDetail(**AlertOut.of(a).model_dump(),
                           history=[HistoryOut.of(h) for h in manager.history(alert_id)],
                           deliveries=[DeliveryOut.of(d) for d in manager.store.deliveries(alert_id)])

    @app.get("/health", tags=["health"], summary="Liveness check (no token needed)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/alerts", tags=["alerts"], summary="List alerts, newest first", response_model=list[AlertOut],
             responses=ERRORS)
    async def list_alerts(
        _: viewer,
        state: Annotated[list[AlertState] | None, Query(description="repeat for several")] = None,
        severity: Annotated[list[Severity] | None, Query()] = None,
        kind: Annotated[list[str] | None, Query()] = None,
        source: Annotated[list[str] | None, Query()] = None,
        asset: Annotated[str | None, Query(description="asset path pattern, e.g. plant1/machining/**")] = None,
        since: Annotated[datetime | None, Query(description="last seen at or after")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[AlertOut]:
        alerts = manager.find(states=[s.value for s in state or []] or None,
                              severities=[s.value for s in severity or []] or None, kinds=kind, sources=source,
                              asset=asset, since=since, limit=limit, offset=offset)
        return [AlertOut.of(a) for a in alerts]

    @app.get("/alerts/{alert_id}", tags=["alerts"], summary="One alert with its history and delivery log",
             response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND})
    async def get_alert(alert_id: AlertId, _: viewer) -> AlertDetail:
        return detail(alert_id)

    @app.post("/alerts/{alert_id}/ack", tags=["alerts"], summary="Acknowledge a firing alert (stops escalation)",
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND, **CONFLICT})
    async def acknowledge(alert_id: AlertId, who: maintainer,
                          body: Annotated[AckIn | None, Body()] = None) -> AlertDetail:
        manager.acknowledge(alert_id, who.name, body.comment if body else None)
        return detail(alert_id)

    @app.post("/alerts/{alert_id}/comments", tags=["alerts"], summary="Add a comment to an alert's history",
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND})
    async def add_comment(alert_id: AlertId, body: CommentIn, who: maintainer) -> AlertDetail:
        manager.comment(alert_id, who.name, body.text)
        return detail(alert_id)

    @app.post("/alerts/{alert_id}/resolve", tags=["alerts"], summary="Resolve an alert by hand",
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND, **CONFLICT})
    async def resolve(alert_id: AlertId, who: maintainer,
                      body: Annotated[ResolveIn | None, Body()] = None) -> AlertDetail:
        manager.resolve(alert_id, who.name, body.comment if body else None)
        return detail(alert_id)

    @app.get("/maintenance", tags=["maintenance"], summary="Maintenance windows added through the API",
             response_model=list[WindowOut], responses=ERRORS)
    async def list_windows(_: viewer) -> list[WindowOut]:
        return [WindowOut.of(w) for w in manager.store.windows()]

    @app.post("/maintenance", tags=["maintenance"], summary="Add a maintenance window (admin)",
              response_model=WindowOut, status_code=status.HTTP_201_CREATED,
              responses={**ERRORS, 422: {"model": Problem, "description": "invalid window"}})
    async def add_window(body: WindowIn, who: admin) -> WindowOut:
        if body.start.tzinfo is None or body.end.tzinfo is None or body.end <= body.start:
            raise HTTPException(422,
                                "start and end need a time zone, and end must be after start")
        return WindowOut.of(manager.add_window(body.assets, body.start, body.end, body.reason, who.name))

    @app.delete("/maintenance/{window_id}", tags=["maintenance"], summary="Delete a maintenance window (admin)",
                status_code=status.HTTP_204_NO_CONTENT, responses={**ERRORS, 404: {"model": Problem}})
    async def delete_window(window_id: int, _: admin) -> None:
        if not manager.delete_window(window_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no maintenance window {window_id}")

    @app.get("/routing", tags=["routing"], summary="Current channels and routes (admin: URLs may hold secrets)",
             response_model=Routing, responses=ERRORS)
    async def get_routing(_: admin) -> Routing:
        return Routing(channels=dict(manager.config.channels), routes=list(manager.config.routes))

    @app.put("/routing", tags=["routing"], summary="Replace channels and routes (admin; persisted)",
             response_model=Routing, responses={**ERRORS, 422: {"model": Problem}})
    async def put_routing(body: Routing, _: admin) -> Routing:
        try:
            cfg = manager.set_routing(body.channels, body.routes)
        except AlertsConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        return Routing(channels=dict(cfg.channels), routes=list(cfg.routes))

    @app.delete("/routing", tags=["routing"], summary="Go back to the plant file's routing (admin)",
                response_model=Routing, responses=ERRORS)
    async def reset_routing(_: admin) -> Routing:
        cfg = manager.reset_routing()
        return Routing(channels=dict(cfg.channels), routes=list(cfg.routes))

    return app
