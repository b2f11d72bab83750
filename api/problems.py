"""Error bodies that never echo a client's input back at length.

FastAPI's default 422 handler returns each pydantic error with its whole `input` and its
`ctx`: a 20 MB comment came back whole in the error, and a `ctx` may hold an exception
object (or a NaN) that the JSON encoder turns into `{}` or refuses. Here each error keeps
its type, location and message, an `input` cut to MAX_ECHO_CHARS, and only the plain
scalar values of its `ctx`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.requests import Request
from fastapi.responses import JSONResponse
from starlette.routing import Match

MAX_ECHO_CHARS = 200
"""How much of a rejected value a 422 quotes: enough to recognise it."""
MAX_MESSAGE_CHARS = 1000
"""A message longer than this is cut (messages can quote values, e.g. a bad asset pattern)."""


def _cut(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    # A lone surrogate (JSON allows "\\ud800") cannot be encoded in the UTF-8 response: '?' instead.
    text = text if len(text) <= limit else text[:limit] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def _scalar(value: object) -> str | int | float | bool | None:
    """A JSON scalar for `value`; anything else (and a NaN or a huge integer) becomes a short string."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _cut(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return _cut(str(value))


def short_input(value: object) -> object:
    """The input as JSON, or its first MAX_ECHO_CHARS characters as a string when longer."""
    if value is None or isinstance(value, str | bool | int | float):
        return _scalar(value)
    try:
        encoded = json.dumps(jsonable_encoder(value), allow_nan=False, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return "<not shown>"
    return json.loads(_cut(encoded)) if len(encoded) <= MAX_ECHO_CHARS else _cut(encoded)


def public_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors as they are safe to send back."""
    out: list[dict[str, Any]] = []
    for error in errors:
        item: dict[str, Any] = {
            "type": str(error.get("type", "value_error")),
            "loc": [p if isinstance(p, int) else _cut(str(p)) for p in error.get("loc", ())],
            "msg": _cut(str(error.get("msg", "")), MAX_MESSAGE_CHARS),
        }
        if "input" in error:
            item["input"] = short_input(error["input"])
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping):
            kept = {str(k): _scalar(v) for k, v in ctx.items()
                    if v is None or isinstance(v, str | bool | int | float)}
            if kept:
                item["ctx"] = kept
        out.append(item)
    return out


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """The 422 handler: FastAPI's shape (`{"detail": [errors]}`) with inputs cut short."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": public_errors(errors)}, status_code=422)


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 whose Allow header lists every method the path has (RFC 9110 §15.5.6).

    Starlette names only the methods of the first route whose path matched, so OPTIONS on
    /routing said `Allow: GET` although PUT and DELETE exist too.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                        headers={"Allow": ", ".join(sorted(methods))})
