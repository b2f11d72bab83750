"""The twin HTTP API (FastAPI): alerts — list, filter, read, acknowledge, comment, resolve — and their routing.

`create_app(manager, tokens)` builds the app around a running AlertManager; the alert
service serves it with uvicorn in the same event loop (so the API reads and changes the
same state the manager works on, without a second writer on the SQLite file).
OpenAPI at /docs and /openapi.json.

Hostile input gets a 4xx, never a 5xx: every parameter and body field is bounded
(api.schemas), the body size is limited before parsing (api.middleware.BodySizeLimit,
413), a 422 quotes at most a little of what it rejects (api.problems), and anything that
still escapes a route is a logged 500 with a JSON body (api.middleware.CatchAll).

No `from __future__ import annotations` here: FastAPI reads the route functions'
annotations at run time, and the role dependencies are local to create_app.
"""

from typing import Annotated

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.requests import Request
from fastapi.responses import JSONResponse

from analytics.alerts.config import Channel, Route
from analytics.alerts.errors import AlertNotFound, AlertsConfigError, InvalidTransition
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import AlertState
from api.auth import ApiToken, Principal, Role, TokenAuth
from api.middleware import MAX_BODY_BYTES, BodySizeLimit, CatchAll
from api.problems import method_not_allowed, validation_problem
from api.schemas import (
    MAX_ITEMS,
    MAX_PAGE,
    MAX_SQL_INTEGER,
    AckIn,
    AlertDetail,
    AlertOut,
    CommentIn,
    DeliveryOut,
    HistoryOut,
    Label,
    Pattern,
    Problem,
    ResolveIn,
    Routing,
    RoutingIn,
    Timestamp,
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
BAD_BODY: dict[int | str, dict[str, object]] = {
    400: {"model": Problem, "description": "the body cannot be read as JSON text (e.g. it is not UTF-8)"},
    413: {"model": Problem, "description": f"request body larger than {MAX_BODY_BYTES} bytes"}}

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
    AlertId = Annotated[int, Path(description="alert id", ge=1, le=MAX_SQL_INTEGER)]
    WindowId = Annotated[int, Path(description="maintenance window id", ge=1, le=MAX_SQL_INTEGER)]

    app = FastAPI(title="factory-twin API", version="1", openapi_tags=TAGS,
                  description="Alerts that reach maintenance staff. Authenticate with `Authorization: Bearer "
                              "<token>`; tokens and roles come from TWIN_API_TOKENS.")
    # add_middleware puts each one outside the ones before: CatchAll is the outermost.
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(CatchAll)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed)

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
        state: Annotated[list[AlertState] | None, Query(description="repeat for several", max_length=MAX_ITEMS)] = None,
        severity: Annotated[list[Severity] | None, Query(max_length=MAX_ITEMS)] = None,
        kind: Annotated[list[Label] | None, Query(max_length=MAX_ITEMS)] = None,
        source: Annotated[list[Label] | None, Query(max_length=MAX_ITEMS)] = None,
        asset: Annotated[Pattern | None, Query(description="asset path pattern, e.g. plant1/machining/**")] = None,
        since: Annotated[Timestamp | None, Query(description="last seen at or after (with a time zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_SQL_INTEGER)] = 0,
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
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND, **CONFLICT, **BAD_BODY})
    async def acknowledge(alert_id: AlertId, who: maintainer,
                          body: Annotated[AckIn | None, Body()] = None) -> AlertDetail:
        manager.acknowledge(alert_id, who.name, body.comment if body else None)
        return detail(alert_id)

    @app.post("/alerts/{alert_id}/comments", tags=["alerts"], summary="Add a comment to an alert's history",
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND, **BAD_BODY})
    async def add_comment(alert_id: AlertId, body: CommentIn, who: maintainer) -> AlertDetail:
        manager.comment(alert_id, who.name, body.text)
        return detail(alert_id)

    @app.post("/alerts/{alert_id}/resolve", tags=["alerts"], summary="Resolve an alert by hand",
              response_model=AlertDetail, responses={**ERRORS, **NOT_FOUND, **CONFLICT, **BAD_BODY})
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
              responses={**ERRORS, **BAD_BODY})
    async def add_window(body: WindowIn, who: admin) -> WindowOut:
        return WindowOut.of(manager.add_window(body.assets, body.start, body.end, body.reason, who.name))

    @app.delete("/maintenance/{window_id}", tags=["maintenance"], summary="Delete a maintenance window (admin)",
                status_code=status.HTTP_204_NO_CONTENT, responses={**ERRORS, 404: {"model": Problem}})
    async def delete_window(window_id: WindowId, _: admin) -> None:
        if not manager.delete_window(window_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no maintenance window {window_id}")

    @app.get("/routing", tags=["routing"], summary="Current channels and routes (admin: URLs may hold secrets)",
             response_model=Routing, responses=ERRORS)
    async def get_routing(_: admin) -> Routing:
        return Routing(channels=dict(manager.config.channels), routes=list(manager.config.routes))

    @app.put("/routing", tags=["routing"], summary="Replace channels and routes (admin; persisted)",
             response_model=Routing, responses={**ERRORS, **BAD_BODY})
    async def put_routing(body: RoutingIn, _: admin) -> Routing:
        channels: dict[str, Channel] = dict(body.channels)
        routes: list[Route] = list(body.routes)
        try:
            cfg = manager.set_routing(channels, routes)
        except AlertsConfigError as exc:
            # The same 422 shape as every other invalid body (e.g. a route naming an unknown channel).
            raise RequestValidationError([{"type": "value_error", "loc": ("body",), "msg": str(exc)}]) from None
        return Routing(channels=dict(cfg.channels), routes=list(cfg.routes))

    @app.delete("/routing", tags=["routing"], summary="Go back to the plant file's routing (admin)",
                response_model=Routing, responses=ERRORS)
    async def reset_routing(_: admin) -> Routing:
        cfg = manager.reset_routing()
        return Routing(channels=dict(cfg.channels), routes=list(cfg.routes))

    return app
