"""The alert service against real servers: Mosquitto, an aiosmtpd SMTP server, an HTTP webhook receiver, InfluxDB.

Escalation and hold times are shortened (about a second) so the whole set runs fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from analytics.alerts.config import parse_config
from analytics.alerts.service import AlertService
from api.auth import parse_tokens
from api.server import ApiOptions, ApiServer
from app.localservers import free_port
from tests.helpers import eventually, running
from twin import topics
from twin.events import AlertEvent, EventState, Severity
from twin.influx import InfluxDB
from twin.mqtt import MqttClient
from twin.readings import Reading, encode
from twin.settings import MqttEndpoint
from twin.topics import AssetPath

pytestmark = pytest.mark.integration

ASSET = AssetPath("plant1", "machining", "line1", "cnc-01")
TOKENS = "eve:viewer:viewer-secret-1,alice:maintainer:maint-secret-1,ops:admin:admin-secret-1"
NOTIFY_TOPIC = "twin/v1/_sys/alerts/notifications"


@dataclass
class Inbox:
    """What the test's SMTP server, webhook receiver and MQTT subscriber received."""

    mails: list[str] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mqtt: list[bytes] = field(default_factory=list)

    def mails_about(self, text: str) -> list[str]:
        return [m for m in self.mails if text in m]

    def hooks_for(self, path: str, alert_id: int, event: str | None = None) -> list[dict[str, Any]]:
        return [b for p, b in self.hooks if p == path and b.get("alert_id") == str(alert_id)
                and (event is None or b.get("event") == event)]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int, int]]:
    """A real SMTP server (aiosmtpd) and a real HTTP receiver on free ports."""
    box = Inbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.mails.append(envelope.content.decode(errors="replace"))
            return "250 OK"

    smtp_port = free_port()
    smtp = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            box.hooks.append((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield box, smtp_port, http.server_address[1]
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()


def config(smtp_port: int, hook_port: int, mqtt: MqttEndpoint, **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "channels": {
            "mail": {"url": f"mailto://127.0.0.1:{smtp_port}?from=twin@example.com&to=maint@example.com"
                            "&mode=insecure"},
            "webhook": {"url": f"json://127.0.0.1:{hook_port}/maint"},
            "lead": {"url": f"json://127.0.0.1:{hook_port}/lead"},
            "mqtt": {"url": f"mqtt://{mqtt.host}:{mqtt.port}/{NOTIFY_TOPIC}"},
        },
        "routes": [{"name": "machining", "match": {"assets": ["plant1/**"]},
                    "escalation": [{"after_s": 0, "channels": ["mail", "webhook", "mqtt"]},
                                   {"after_s": 1.5, "channels": ["lead"]}]}],
        "hysteresis": {"min_firing_s": 0, "clear_hold_s": 0, "refire_holdoff_s": 60},
        "delivery_backoff_s": 0.2,
    }
    raw.update(extra)
    return parse_config(raw)


def fault(key: str, state: str = "firing", *, n: int = 0, asset: AssetPath = ASSET) -> AlertEvent:
    return AlertEvent(asset, "spc", "nelson_1", Severity.CRITICAL, EventState(state), key,
                      f"bore_diameter sample {n} beyond 3σ (Nelson 1)", datetime.now(UTC))


@pytest.fixture
async def publisher(mqtt_endpoint: MqttEndpoint) -> AsyncIterator[MqttClient]:
    async with MqttClient(endpoint=mqtt_endpoint, client_id="test-alert-source") as client:
        await client.wait_connected(10)
        yield client


async def send(client: MqttClient, *events: AlertEvent) -> None:
    for e in events:
        await client.publish(topics.asset_topic(e.asset, "alerts"), e.encode(), qos=1, timeout_s=10)


def service(cfg: Any, db: Path, mqtt: MqttEndpoint, api_port: int, influx: InfluxDB | None = None) -> AlertService:
    return AlertService(cfg, db_path=db, mqtt_endpoint=mqtt, influx=influx, tick_s=0.05,
                        companions=[ApiServer(ApiOptions(tokens=parse_tokens(TOKENS), port=api_port))])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def alerts_by_key(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    r = await http.get("/alerts", headers=auth("viewer-secret-1"))
    r.raise_for_status()
    return {a["key"]: a for a in r.json()}


async def test_fault_burst_notifies_each_channel_once_escalates_unless_acknowledged(
        inbox: tuple[Inbox, int, int], mqtt_endpoint: MqttEndpoint, publisher: MqttClient, tmp_path: Path) -> None:
    box, smtp_port, hook_port = inbox
    api_port = free_port()
    svc = service(config(smtp_port, hook_port, mqtt_endpoint), tmp_path / "alerts.db", mqtt_endpoint, api_port)
    async with MqttClient(endpoint=mqtt_endpoint, client_id="test-notify-listener") as listener:
        await listener.subscribe(NOTIFY_TOPIC)
        async with running(svc.run()), httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
            await asyncio.wait_for(svc.ready.wait(), 15)
            # 50 SPC violations of one condition, and one violation of another.
            await send(publisher, *(fault("spc:bore:nelson_1", n=i) for i in range(50)), fault("spc:face:nelson_1"))

            async def both_notified() -> bool:
                alerts = await alerts_by_key(http)
                return (len(alerts) == 2 and alerts["spc:bore:nelson_1"]["count"] == 50
                        and len(box.mails) >= 2 and len(box.hooks) >= 2)

            await eventually(both_notified, timeout_s=15, interval_s=0.05)
            alerts = await alerts_by_key(http)
            bore, face = alerts["spc:bore:nelson_1"]["id"], alerts["spc:face:nelson_1"]["id"]

            # Acknowledge 'face' right away; refused without a token (401) and for a viewer (403).
            assert (await http.post(f"/alerts/{face}/ack")).status_code == 401
            assert (await http.post(f"/alerts/{face}/ack", headers=auth("not-a-token"))).status_code == 401
            assert (await http.post(f"/alerts/{face}/ack", headers=auth("viewer-secret-1"))).status_code == 403
            r = await http.post(f"/alerts/{face}/ack", headers=auth("maint-secret-1"), json={"comment": "on it"})
            assert r.status_code == 200 and r.json()["acked_by"] == "alice"

            async def bore_escalated() -> bool:
                return len(box.hooks_for("/lead", bore)) == 1

            await eventually(bore_escalated, timeout_s=10, interval_s=0.05)
            await asyncio.sleep(0.5)
            await eventually(lambda: _true(listener.messages.qsize() >= 2), timeout_s=5)

        # Exactly one notification per channel per alert, not one per event.
        assert len(box.mails_about(f"#{bore} ")) == 1 and len(box.mails_about(f"#{face} ")) == 1
        assert len(box.hooks_for("/maint", bore)) == 1 and len(box.hooks_for("/maint", face)) == 1
        assert box.hooks_for("/maint", bore)[0]["severity"] == "critical"
        mqtt_bodies = [listener.messages.get_nowait().payload for _ in range(listener.messages.qsize())]
        assert sum(f"#{bore} " in b.decode() for b in mqtt_bodies) == 1
        assert sum(f"#{face} " in b.decode() for b in mqtt_bodies) == 1
        # The unacknowledged alert escalated to the lead once; the acknowledged one never did.
        assert len(box.hooks_for("/lead", bore, "escalation")) == 1
        assert box.hooks_for("/lead", face) == []


async def _true(value: bool) -> bool:
    return value


async def test_alert_resolves_when_fault_clears_and_state_survives_restart(
        inbox: tuple[Inbox, int, int], mqtt_endpoint: MqttEndpoint, publisher: MqttClient, tmp_path: Path,
        influx: InfluxDB) -> None:
    box, smtp_port, hook_port = inbox
    cfg = config(smtp_port, hook_port, mqtt_endpoint, routes=[
        {"name": "all", "escalation": [{"after_s": 0, "channels": ["webhook"]},
                                       {"after_s": 1.0, "channels": ["lead"]}]}])
    db = tmp_path / "alerts.db"
    api_port = free_port()
    svc = service(cfg, db, mqtt_endpoint, api_port, influx)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
        async with running(svc.run()):
            await asyncio.wait_for(svc.ready.wait(), 15)
            await send(publisher, fault("k1"), fault("k1"), fault("k2"))

            async def two_notified() -> bool:
                return len(box.hooks) >= 2

            await eventually(two_notified, timeout_s=10, interval_s=0.05)
            alerts = await alerts_by_key(http)
            k1, k2 = alerts["k1"]["id"], alerts["k2"]["id"]
            r = await http.post(f"/alerts/{k2}/ack", headers=auth("maint-secret-1"))
            assert r.status_code == 200
            await send(publisher, fault("k1", "cleared"))

            async def k1_resolved() -> bool:
                return (await alerts_by_key(http))["k1"]["state"] == "resolved"

            await eventually(k1_resolved, timeout_s=10, interval_s=0.05)
            await eventually(lambda: _true(len(box.hooks_for("/maint", k1, "resolved")) == 1), timeout_s=10)

        # Restart on the same database: the acknowledged alert is still there, with its history.
        svc2 = service(cfg, db, mqtt_endpoint, api_port, influx)
        async with running(svc2.run()):
            await asyncio.wait_for(svc2.ready.wait(), 15)
            alerts = await alerts_by_key(http)
            assert (alerts["k1"]["state"], alerts["k2"]["state"], alerts["k2"]["acked_by"]) == (
                "resolved", "acknowledged", "alice")
            await send(publisher, fault("k2"), fault("k2", "cleared"))

            async def k2_resolved() -> bool:
                a = (await alerts_by_key(http))["k2"]
                return a["state"] == "resolved" and a["count"] == 2

            await eventually(k2_resolved, timeout_s=10, interval_s=0.05)
            detail = (await http.get(f"/alerts/{k2}", headers=auth("viewer-secret-1"))).json()
            assert [h["action"] for h in detail["history"]] == ["opened", "notified", "acknowledged", "resolved"]

            async def annotated() -> bool:
                series = await influx.query('SELECT "action", "state", "alert_id" FROM "alerts"')
                return len(series) == 1 and len(series[0].values) >= 7
            await eventually(annotated, timeout_s=10)
    # No duplicate firing notifications across the restart, and no escalation of the acknowledged alert.
    assert len(box.hooks_for("/maint", k1, "firing")) == 1 and len(box.hooks_for("/maint", k2, "firing")) == 1
    assert box.hooks_for("/lead", k2) == []
    series = await influx.query('SELECT "action", "state" FROM "alerts" WHERE "asset" = \'cnc-01\'')
    actions = [row[1] for row in series[0].values]
    assert actions.count("opened") == 2 and actions.count("acknowledged") == 1 and actions.count("resolved") == 2


async def test_maintenance_window_silences_and_flapping_does_not_renotify(
        inbox: tuple[Inbox, int, int], mqtt_endpoint: MqttEndpoint, publisher: MqttClient, tmp_path: Path) -> None:
    box, smtp_port, hook_port = inbox
    cfg = config(smtp_port, hook_port, mqtt_endpoint, routes=[
        {"name": "all", "notify_resolved": False, "escalation": [{"after_s": 0, "channels": ["webhook"]}]}])
    api_port = free_port()
    svc = service(cfg, tmp_path / "alerts.db", mqtt_endpoint, api_port)
    press = AssetPath("plant1", "assembly", "line2", "press-1")
    async with running(svc.run()), httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
        await asyncio.wait_for(svc.ready.wait(), 15)
        now = datetime.now(UTC)
        window = {"assets": "plant1/assembly/**", "start": (now - timedelta(minutes=1)).isoformat(),
                  "end": (now + timedelta(hours=1)).isoformat(), "reason": "die change"}
        assert (await http.post("/maintenance", json=window, headers=auth("maint-secret-1"))).status_code == 403
        assert (await http.post("/maintenance", json=window, headers=auth("admin-secret-1"))).status_code == 201
        await send(publisher, fault("silenced", asset=press), fault("flap"))

        async def flap_notified() -> bool:
            alerts = await alerts_by_key(http)
            return "flap" in alerts and len(box.hooks_for("/maint", alerts["flap"]["id"])) == 1

        await eventually(flap_notified, timeout_s=10, interval_s=0.05)
        for _ in range(5):  # then the condition chatters: clears and fires again, over and over
            await send(publisher, fault("flap", "cleared"), fault("flap"))
            await asyncio.sleep(0.06)  # more than a tick apart, so each clear really resolves
        await send(publisher, fault("marker"))

        async def marker_notified() -> bool:
            alerts = await alerts_by_key(http)
            return "marker" in alerts and len(box.hooks_for("/maint", alerts["marker"]["id"])) == 1

        await eventually(marker_notified, timeout_s=10, interval_s=0.05)
        await asyncio.sleep(0.5)  # a few ticks more, for any late notification to show up
        alerts = await alerts_by_key(http)
    assert alerts["silenced"]["silenced"] is True and alerts["silenced"]["state"] == "firing"
    assert box.hooks_for("/maint", alerts["silenced"]["id"]) == []
    assert alerts["flap"]["flaps"] == 5
    assert len(box.hooks_for("/maint", alerts["flap"]["id"])) == 1
    assert len([k for k in alerts if k == "flap"]) == 1


async def test_edge_last_will_and_threshold_rule_raise_alerts(
        inbox: tuple[Inbox, int, int], mqtt_endpoint: MqttEndpoint, publisher: MqttClient, tmp_path: Path) -> None:
    box, smtp_port, hook_port = inbox
    cfg = config(smtp_port, hook_port, mqtt_endpoint,
                 routes=[{"name": "all", "escalation": [{"after_s": 0, "channels": ["webhook"]}]}],
                 rules=[{"name": "spindle-hot", "signal": "spindle_temp_c", "above": 80, "deadband": 5}])
    api_port = free_port()
    svc = service(cfg, tmp_path / "alerts.db", mqtt_endpoint, api_port)
    async with running(svc.run()), httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
        await asyncio.wait_for(svc.ready.wait(), 15)
        # What the broker publishes for an edge agent that vanished: its retained last will.
        await publisher.publish(topics.edge_status("edge-7"), json.dumps({"agent": "edge-7", "state": "offline"})
                                .encode(), qos=1, retain=True, timeout_s=10)
        readings = [Reading(ASSET, "spindle_temp_c", datetime.now(UTC), v) for v in (70.0, 85.0, 90.0)]
        await publisher.publish(topics.asset_topic(ASSET, "telemetry"), encode(ASSET, readings, agent="edge-1"),
                                qos=1, timeout_s=10)

        async def both() -> bool:
            alerts = await alerts_by_key(http)
            return {"edge:edge-7:offline", "threshold:spindle-hot:spindle_temp_c"} <= set(alerts)

        await eventually(both, timeout_s=10, interval_s=0.05)
        alerts = await alerts_by_key(http)
        hot = alerts["threshold:spindle-hot:spindle_temp_c"]
        assert (hot["count"], hot["asset"]) == (2, str(ASSET))
        assert alerts["edge:edge-7:offline"]["asset"] == "_sys/edge/agents/edge-7"

        back = [Reading(ASSET, "spindle_temp_c", datetime.now(UTC), 70.0)]
        await publisher.publish(topics.asset_topic(ASSET, "telemetry"), encode(ASSET, back, agent="edge-1"),
                                qos=1, timeout_s=10)
        await publisher.publish(topics.edge_status("edge-7"), json.dumps({"agent": "edge-7", "state": "online"})
                                .encode(), qos=1, retain=True, timeout_s=10)

        async def cleared() -> bool:
            alerts = await alerts_by_key(http)
            return all(a["state"] == "resolved" for a in alerts.values())

        await eventually(cleared, timeout_s=10, interval_s=0.05)
    assert len(box.hooks_for("/maint", hot["id"], "firing")) == 1


async def _twin(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).with_name("twin")), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_alerts_cli_lists_as_json_and_reports_api_errors_in_one_line(
        inbox: tuple[Inbox, int, int], mqtt_endpoint: MqttEndpoint, publisher: MqttClient, tmp_path: Path) -> None:
    _box, smtp_port, hook_port = inbox
    api_port = free_port()
    svc = service(config(smtp_port, hook_port, mqtt_endpoint), tmp_path / "alerts.db", mqtt_endpoint, api_port)
    env = {"TWIN_API_URL": f"http://127.0.0.1:{api_port}", "TWIN_API_TOKEN": "viewer-secret-1"}
    async with running(svc.run()):
        await asyncio.wait_for(svc.ready.wait(), 15)
        await send(publisher, fault("spc:bore:nelson_1"))

        async def listed() -> bool:
            code, out, _ = await _twin("alerts", "list", "--json", env=env)
            return code == 0 and len(out.splitlines()) == 1

        await eventually(listed, timeout_s=20, interval_s=0.3)
        code, out, _ = await _twin("alerts", "list", "--json", env=env)
        alert = json.loads(out)
        assert (alert["key"], alert["state"], alert["severity"]) == ("spc:bore:nelson_1", "firing", "critical")
        # A viewer may not acknowledge: one line naming the HTTP status, no traceback.
        code, out, err = await _twin("alerts", "ack", str(alert["id"]), env=env)
        assert code != 0 and "Traceback" not in err + out
        assert "HTTP 403" in err and len(err.strip().splitlines()) == 1
        code, out, err = await _twin("alerts", "list", env={**env, "TWIN_API_URL": "http://127.0.0.1:9"})
        assert code != 0 and "cannot reach the twin API" in err and "Traceback" not in err
