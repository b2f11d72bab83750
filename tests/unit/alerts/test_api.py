"""The HTTP API in-process: token roles (401/403), acknowledge/comment/resolve, filters, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from analytics.alerts.manager import AlertManager
from api.app import create_app
from api.auth import Role, parse_tokens
from api.errors import ApiError
from tests.unit.alerts.conftest import API_TOKENS, bearer, event


@pytest.fixture
async def setup(make_manager: Callable[..., AlertManager]) -> AsyncIterator[tuple[httpx.AsyncClient, AlertManager]]:
    m = make_manager()
    app = create_app(m, parse_tokens(API_TOKENS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http, m


async def test_ack_needs_a_valid_token_and_the_maintainer_role(setup: tuple[httpx.AsyncClient, AlertManager]) -> None:
    http, m = setup
    a = m.ingest(event())
    assert a is not None
    r = await http.post(f"/alerts/{a.id}/ack")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert (await http.post(f"/alerts/{a.id}/ack", headers=bearer("wrong-token"))).status_code == 401
    assert (await http.post(f"/alerts/{a.id}/ack", headers=bearer("view-token-1"))).status_code == 403
    assert m.get(a.id).state.value == "firing"
    r = await http.post(f"/alerts/{a.id}/ack", headers=bearer("maint-token-1"), json={"comment": "on it"})
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["acked_by"]) == ("acknowledged", "alice")
    assert (await http.post(f"/alerts/{a.id}/ack", headers=bearer("maint-token-1"))).status_code == 409


async def test_viewer_reads_and_filters(setup: tuple[httpx.AsyncClient, AlertManager]) -> None:
    http, m = setup
    m.ingest(event(key="a", severity="critical"))
    m.ingest(event(key="b", severity="info"))
    r = await http.get("/alerts", params={"severity": "critical"}, headers=bearer("view-token-1"))
    assert r.status_code == 200 and [x["key"] for x in r.json()] == ["a"]
    assert (await http.get("/alerts/999", headers=bearer("view-token-1"))).status_code == 404


async def test_comment_and_resolve_appear_in_history(setup: tuple[httpx.AsyncClient, AlertManager]) -> None:
    http, m = setup
    a = m.ingest(event())
    assert a is not None
    h = bearer("maint-token-1")
    assert (await http.post(f"/alerts/{a.id}/comments", json={"text": "bearing noise"}, headers=h)).status_code == 200
    r = await http.post(f"/alerts/{a.id}/resolve", json={"comment": "replaced"}, headers=h)
    body = r.json()
    assert body["state"] == "resolved" and body["resolved_by"] == "alice"
    assert [(x["action"], x["actor"]) for x in body["history"]] == [
        ("opened", "system"), ("notified", "system"), ("commented", "alice"), ("resolved", "alice")]


async def test_only_admin_changes_maintenance_and_routing(setup: tuple[httpx.AsyncClient, AlertManager]) -> None:
    http, m = setup
    window = {"assets": "plant1/**", "start": "2026-11-26T08:00:00Z", "end": "2026-11-26T09:00:00Z"}
    assert (await http.post("/maintenance", json=window, headers=bearer("maint-token-1"))).status_code == 403
    r = await http.post("/maintenance", json=window, headers=bearer("admin-token-1"))
    assert r.status_code == 201 and r.json()["created_by"] == "ops"
    routing = (await http.get("/routing", headers=bearer("admin-token-1"))).json()
    routing["routes"] = [{"name": "only-mail", "escalation": [{"after_s": 0, "channels": ["mail"]}]}]
    assert (await http.put("/routing", json=routing, headers=bearer("maint-token-1"))).status_code == 403
    r = await http.put("/routing", json=routing, headers=bearer("admin-token-1"))
    assert r.status_code == 200 and [x.name for x in m.config.routes] == ["only-mail"]
    routing["routes"][0]["escalation"][0]["channels"] = ["nope"]
    assert (await http.put("/routing", json=routing, headers=bearer("admin-token-1"))).status_code == 422


async def test_openapi_documents_tags_summaries_and_security(setup: tuple[httpx.AsyncClient, AlertManager]) -> None:
    http, _ = setup
    spec = (await http.get("/openapi.json")).json()
    ack = spec["paths"]["/alerts/{alert_id}/ack"]["post"]
    assert ack["tags"] == ["alerts"] and ack["summary"].startswith("Acknowledge")
    assert {"401", "403", "404", "409"} <= set(ack["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_token_list_parsing() -> None:
    [t] = parse_tokens(" bob:Admin:abcdefgh12 ")
    assert (t.name, t.role) == ("bob", Role.ADMIN) and "abcdefgh12" not in repr(t)
    with pytest.raises(ApiError, match="role"):
        parse_tokens("bob:root:abcdefgh12")
    with pytest.raises(ApiError, match="name:role:token"):
        parse_tokens("bob-abcdefgh12")
