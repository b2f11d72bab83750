"""Hostile input to the HTTP API gets a 4xx, never a 5xx: one regression test per 500 an attacker found.

Found 2026-11 (8 of 109 requests answered 500): alert ids ≥ 2**63 (SQLite overflow), a
`since` without a time zone or near year 1, `offset=2**63`, a maintenance window starting
in year 1; and bodies were unbounded (a 5 MB reason was stored, a 20 MB comment came back
whole in the 422).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from analytics.alerts.manager import AlertManager
from api.app import create_app
from api.auth import load_api_settings, parse_tokens
from api.errors import ApiConfigError, ApiError
from api.middleware import MAX_BODY_BYTES, BodySizeLimit
from api.problems import MAX_ECHO_CHARS, public_errors
from api.schemas import MAX_SQL_INTEGER, MAX_TEXT
from tests.unit.alerts.conftest import API_TOKENS, bearer, event
from twin.errors import ConfigError, TwinError

ADMIN = bearer("admin-token-1")
TOO_BIG = 2**63  # one past SQLite's largest INTEGER


@pytest.fixture
def app(make_manager: Callable[..., AlertManager]) -> FastAPI:
    m = make_manager()
    m.ingest(event())
    return create_app(m, parse_tokens(API_TOKENS))


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                 headers=ADMIN) as client:
        yield client


def messages(r: httpx.Response) -> str:
    """The 422's messages, joined."""
    assert r.status_code == 422, r.text
    return " | ".join(e["msg"] for e in r.json()["detail"])


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"/alerts/{TOO_BIG}"), ("POST", f"/alerts/{TOO_BIG}/ack"), ("POST", f"/alerts/{TOO_BIG}/resolve"),
    ("DELETE", f"/maintenance/{TOO_BIG}"), ("GET", f"/alerts/{2**200}"), ("GET", "/alerts/-1")])
async def test_an_id_beyond_sqlite_integers_is_422_not_500(http: httpx.AsyncClient, method: str, path: str) -> None:
    r = await http.request(method, path)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "path"


async def test_the_largest_sqlite_integer_is_a_plain_404(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"/alerts/{MAX_SQL_INTEGER}")).status_code == 404
    assert (await http.post(f"/alerts/{MAX_SQL_INTEGER}/comments", json={"text": "x"})).status_code == 404
    assert (await http.delete(f"/maintenance/{MAX_SQL_INTEGER}")).status_code == 404


@pytest.mark.parametrize("since", ["2026-01-01T00:00:00", "2026-01-01"])
async def test_since_without_a_time_zone_is_422_that_says_so(http: httpx.AsyncClient, since: str) -> None:
    assert "needs a time zone" in messages(await http.get("/alerts", params={"since": since}))


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                   "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59.999999Z"])
async def test_since_outside_1970_to_9999_is_422(http: httpx.AsyncClient, since: str) -> None:
    assert "must lie between 1970-01-01 and 9999-01-01" in messages(await http.get("/alerts", params={"since": since}))


@pytest.mark.parametrize("since", ["0.5", "1700000000", "now"])
async def test_since_must_be_rfc_3339_text_not_unix_seconds(http: httpx.AsyncClient, since: str) -> None:
    assert "RFC 3339" in messages(await http.get("/alerts", params={"since": since}))


async def test_since_with_a_time_zone_still_filters(http: httpx.AsyncClient) -> None:
    r = await http.get("/alerts", params={"since": "2026-11-26T16:00:00+08:00"})  # = T0, the event's time
    assert r.status_code == 200 and len(r.json()) == 1
    assert (await http.get("/alerts", params={"since": "2026-11-26T16:00:01+08:00"})).json() == []


@pytest.mark.parametrize("asset", [None, "plant1/**"])  # with a pattern the manager pages in Python
async def test_offset_beyond_sqlite_integers_is_422_and_the_largest_one_is_an_empty_page(
        http: httpx.AsyncClient, asset: str | None) -> None:
    params: dict[str, Any] = {"asset": asset} if asset else {}
    r = await http.get("/alerts", params={**params, "offset": TOO_BIG})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"]
    r = await http.get("/alerts", params={**params, "offset": MAX_SQL_INTEGER})
    assert r.status_code == 200 and r.json() == []


async def test_list_filters_are_bounded(http: httpx.AsyncClient) -> None:
    assert (await http.get("/alerts", params={"kind": ["k"] * 51})).status_code == 422
    assert (await http.get("/alerts", params={"source": "s" * 65})).status_code == 422
    assert (await http.get("/alerts", params={"limit": 1001})).status_code == 422
    assert "4 levels" in messages(await http.get("/alerts", params={"asset": "plant1/x"}))


def window(**changes: Any) -> dict[str, Any]:
    return {"assets": "plant1/**", "start": "2026-11-26T08:00:00Z", "end": "2026-11-26T09:00:00Z", **changes}


@pytest.mark.parametrize("changes", [
    {"start": "0001-01-01T00:00:00Z"}, {"start": "0001-01-01T00:00:00+05:00"},
    {"end": "9999-12-31T23:59:59-05:00"}])
async def test_a_maintenance_window_outside_1970_to_9999_is_422(http: httpx.AsyncClient,
                                                                changes: dict[str, Any]) -> None:
    assert "1970" in messages(await http.post("/maintenance", json=window(**changes)))
    assert (await http.get("/maintenance")).json() == []


async def test_a_maintenance_window_needs_time_zones_and_an_order(http: httpx.AsyncClient) -> None:
    assert "needs a time zone" in messages(await http.post("/maintenance", json=window(start="2026-11-26T08:00:00")))
    assert "RFC 3339" in messages(await http.post("/maintenance", json=window(start=-62135596800)))
    assert "end must be after start" in messages(await http.post("/maintenance", json=window(
        end="2026-11-26T08:00:00Z")))
    assert "at most 2000 characters" in messages(await http.post("/maintenance", json=window(reason="r" * 2001)))
    assert (await http.post("/maintenance", json=window(reason="r" * MAX_TEXT))).status_code == 201


async def test_a_5_mb_maintenance_reason_is_413_and_not_stored(http: httpx.AsyncClient) -> None:
    r = await http.post("/maintenance", json=window(reason="x" * 5_000_000))
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}
    assert (await http.get("/maintenance")).json() == []


async def test_a_chunked_body_over_the_limit_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the middleware must count
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    r = await http.post("/alerts/1/comments", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "detail" in r.json()


async def test_a_chunked_body_under_the_limit_arrives_whole(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "bearing'
        yield b' noise"}'

    r = await http.post("/alerts/1/comments", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["history"][-1]["comment"] == "bearing noise"


async def test_a_content_length_that_lies_is_still_counted() -> None:
    """A declared size under the limit does not let a bigger streamed body through."""
    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])

    limit = BodySizeLimit(app, max_bytes=100)
    incoming = iter([{"type": "http.request", "body": b"x" * 60, "more_body": True},
                     {"type": "http.request", "body": b"x" * 60, "more_body": False}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"10")]}
    await limit(scope, receive, send)
    assert reached == [] and sent[0]["status"] == 413


async def test_an_oversized_comment_is_422_and_not_echoed_back(http: httpx.AsyncClient) -> None:
    huge = "y" * (MAX_BODY_BYTES - 100)  # under the body limit, far over the field's
    r = await http.post("/alerts/1/comments", json={"text": huge})
    assert r.status_code == 422 and len(r.content) < 1000
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "text"] and error["input"] == "y" * MAX_ECHO_CHARS + "…"


async def test_a_20_mb_comment_is_413_with_a_short_answer(http: httpx.AsyncClient) -> None:
    r = await http.post("/alerts/1/comments", json={"text": "z" * 20_000_000})
    assert r.status_code == 413 and len(r.content) < 200


async def test_a_large_wrong_body_is_quoted_short(http: httpx.AsyncClient) -> None:
    r = await http.put("/routing", json=[{"name": "n" * 100}] * 200)
    assert r.status_code == 422 and len(r.content) < 1000
    assert r.json()["detail"][0]["input"].endswith("…")


@pytest.mark.parametrize("body", [
    b'{"text": NaN}', b'{"text": "\\ud800"}', b'{"text": ' + b"[" * 500 + b"]" * 500 + b"}",
    b'{"text": 1' + b"0" * 4000 + b"}", b"{", b"\xff\xfe"])
async def test_odd_json_is_a_4xx(http: httpx.AsyncClient, body: bytes) -> None:
    r = await http.post("/alerts/1/comments", content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and len(r.content) < 2000
    json.loads(r.content)  # a JSON problem body


def test_validation_errors_drop_context_that_is_not_json() -> None:
    [error] = public_errors([{"type": "value_error", "loc": ("body", "x" * 1000), "msg": "bad", "input": float("nan"),
                              "ctx": {"error": ValueError("boom"), "limit": 3, "le": float("inf")}}])
    assert error["ctx"] == {"limit": 3, "le": "inf"} and error["input"] == "nan"
    assert len(error["loc"][1]) == MAX_ECHO_CHARS + 1
    json.dumps(error, allow_nan=False)


async def test_routing_numbers_and_lists_are_bounded(http: httpx.AsyncClient) -> None:
    routing = (await http.get("/routing")).json()
    routing["routes"][0]["escalation"][1]["after_s"] = 1e308  # would overflow the manager's timedelta
    assert (await http.put("/routing", json=routing)).status_code == 422
    routing["routes"][0]["escalation"][1]["after_s"] = 60
    routing["channels"] = {f"c{i}": {"url": "json://localhost/x"} for i in range(51)}
    assert (await http.put("/routing", json=routing)).status_code == 422


async def test_a_route_naming_an_unknown_channel_is_422_in_the_usual_shape(http: httpx.AsyncClient) -> None:
    routing = (await http.get("/routing")).json()
    routing["routes"][0]["escalation"][0]["channels"] = ["nope"]
    assert "nope" in messages(await http.put("/routing", json=routing))


async def test_an_unsupported_method_is_405_listing_every_method_of_the_path(http: httpx.AsyncClient) -> None:
    r = await http.request("OPTIONS", "/routing")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) >= {"GET", "PUT", "DELETE"}
    assert (await http.request("TRACE", "/alerts/1")).headers["allow"].startswith("GET")


async def test_an_unexpected_error_is_a_logged_500_without_a_traceback(
        app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    caplog.set_level(logging.ERROR, logger="api.middleware")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        r = await client.get("/boom")
    assert r.status_code == 500 and "secret" not in r.text and r.json()["detail"].startswith("internal error")
    [record] = caplog.records
    assert "GET /boom" in record.getMessage() and record.exc_info is not None


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("TWIN_API_TOKENS", "TWIN_API_HOST", "TWIN_API_PORT", "TWIN_API_URL", "TWIN_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def test_a_bad_api_port_is_a_one_line_config_error_naming_the_variable(api_env: pytest.MonkeyPatch) -> None:
    api_env.setenv("TWIN_API_PORT", "abc")
    with pytest.raises(ApiConfigError) as caught:
        load_api_settings()
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ApiError)
    assert isinstance(caught.value, TwinError)
    message = str(caught.value)
    assert "TWIN_API_PORT='abc'" in message and "\n" not in message
    api_env.setenv("TWIN_API_PORT", "70000")
    with pytest.raises(ApiConfigError, match="TWIN_API_PORT='70000': Input should be less than or equal to 65535"):
        load_api_settings()


def test_api_settings_errors_never_quote_a_secret(api_env: pytest.MonkeyPatch) -> None:
    api_env.setenv("TWIN_API_URL", "ftp://x")
    api_env.setenv("TWIN_API_TOKEN", "s3cret-value")
    with pytest.raises(ApiConfigError, match="TWIN_API_URL='ftp://x': must be an http") as caught:
        load_api_settings()
    assert "s3cret" not in str(caught.value)
    api_env.setenv("TWIN_API_URL", "http://127.0.0.1:9000")
    api_env.setenv("TWIN_API_PORT", "9000")
    assert load_api_settings().port == 9000
