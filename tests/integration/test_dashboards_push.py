"""`twin dashboards push` through grafana-client, against a stand-in for Grafana's HTTP API.

STAND-IN, NOT GRAFANA: Grafana cannot be installed on these machines (DESIGN.md §7), so
this test starts a small local HTTP server that implements the four folder/dashboard
endpoints `push` uses (GET/POST /api/folders, PUT /api/folders/{uid}, POST
/api/dashboards/db) with Grafana's status codes and overwrite rule, and records every
request grafana-client makes. It proves what we send (uids, folder, overwrite, token)
and that pushing twice is idempotent; it does not prove Grafana accepts the dashboard
model itself (the panel queries are verified against InfluxDB in
test_dashboards_queries.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from dashboards.build import FOLDER_TITLE, FOLDER_UID, rendered
from dashboards.cli import dashboards
from dashboards.push import load, push

pytestmark = pytest.mark.integration

UIDS = {"ft-plant-overview", "ft-machine-detail", "ft-spc", "ft-energy", "ft-pipeline"}


@dataclass
class FakeGrafana:
    """State of the stand-in: folders and dashboards by uid, and the requests it received."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None, str | None]] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict[str, Any] | None:
            body = self._body()
            state.requests.append((self.command, self.path, body, self.headers.get("Authorization")))
            return body

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/api/folders/"):
                uid = self.path.removeprefix("/api/folders/")
                if uid in state.folders:
                    return self._reply(200, state.folders[uid])
                return self._reply(404, {"message": "folder not found"})
            return self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:
            body = self._record() or {}
            if self.path == "/api/folders":
                if body["uid"] in state.folders:
                    return self._reply(409, {"message": "a folder with the same uid already exists"})
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "version": 1}
                return self._reply(200, state.folders[body["uid"]])
            if self.path == "/api/dashboards/db":
                board = body["dashboard"]
                if board["uid"] in state.dashboards and not body.get("overwrite"):
                    return self._reply(412, {"status": "name-exists"})
                if body.get("folderUid") not in state.folders:
                    return self._reply(400, {"message": "folder not found"})
                state.dashboards[board["uid"]] = body
                return self._reply(200, {"uid": board["uid"], "status": "success",
                                         "url": f"/d/{board['uid']}/x"})
            return self._reply(404, {"message": "not found"})

        def do_PUT(self) -> None:
            body = self._record() or {}
            uid = self.path.removeprefix("/api/folders/")
            if uid not in state.folders:
                return self._reply(404, {"message": "folder not found"})
            state.folders[uid]["title"] = body.get("title", state.folders[uid]["title"])
            return self._reply(200, state.folders[uid])

    return Handler


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    """The stand-in Grafana API on a free loopback port."""
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_push_creates_the_folder_and_saves_every_dashboard_by_uid_with_overwrite(grafana: FakeGrafana) -> None:
    result = push(url=grafana.url, token="glsa_test", dashboards=load())

    assert result.folder_created
    assert set(result.dashboards) == UIDS
    assert grafana.folders == {FOLDER_UID: {"uid": FOLDER_UID, "title": FOLDER_TITLE, "version": 1}}
    assert set(grafana.dashboards) == UIDS
    for uid, body in grafana.dashboards.items():
        assert body["folderUid"] == FOLDER_UID and body["overwrite"] is True
        assert body["dashboard"]["id"] is None
        assert {k: v for k, v in body["dashboard"].items() if k != "id"} == json.loads(rendered()[f"{uid}.json"])
    assert {auth for *_, auth in grafana.requests} == {"Bearer glsa_test"}


def test_pushing_twice_leaves_grafana_as_pushing_once(grafana: FakeGrafana) -> None:
    push(url=grafana.url, token="t", dashboards=load())
    after_first = json.dumps([grafana.folders, grafana.dashboards], sort_keys=True)
    first_requests = len(grafana.requests)

    second = push(url=grafana.url, token="t", dashboards=load())

    assert not second.folder_created and not second.folder_renamed
    assert json.dumps([grafana.folders, grafana.dashboards], sort_keys=True) == after_first
    again = grafana.requests[first_requests:]
    # The second run only looks the folder up, then overwrites the same five uids.
    assert [(m, p) for m, p, *_ in again] == [("GET", f"/api/folders/{FOLDER_UID}")] + [
        ("POST", "/api/dashboards/db")] * len(UIDS)
    assert {body["dashboard"]["uid"] for _, _, body, _ in again[1:] if body} == UIDS


def test_push_renames_a_folder_whose_title_drifted(grafana: FakeGrafana) -> None:
    grafana.folders[FOLDER_UID] = {"uid": FOLDER_UID, "title": "renamed by hand", "version": 3}

    result = push(url=grafana.url, token="t", dashboards=load())

    assert result.folder_renamed and not result.folder_created
    assert grafana.folders[FOLDER_UID]["title"] == FOLDER_TITLE
    assert ("PUT", f"/api/folders/{FOLDER_UID}") in [(m, p) for m, p, *_ in grafana.requests]


def test_push_command_uploads_and_reports_each_dashboard(grafana: FakeGrafana) -> None:
    result = CliRunner().invoke(dashboards, ["push", "--url", grafana.url, "--token", "cli-token"])

    assert result.exit_code == 0, result.output
    assert set(grafana.dashboards) == UIDS
    for uid in UIDS:
        assert uid in result.output
    assert {auth for *_, auth in grafana.requests} == {"Bearer cli-token"}


def test_push_command_explains_an_unreachable_grafana() -> None:
    # Nothing listens on the discard port on loopback.
    result = CliRunner().invoke(dashboards, ["push", "--url", "http://127.0.0.1:9", "--token", "x"])

    assert result.exit_code == 1
    assert "Grafana at http://127.0.0.1:9" in result.output
