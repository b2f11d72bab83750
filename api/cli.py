"""`twin alerts`: `list`, `ack`, `resolve` (clients of the HTTP API) and `serve` (the alert manager with the API).

`list/ack/resolve` talk to the running service's HTTP API with a token, not to the
SQLite file: the service holds the live state (open alerts, escalation timers) in
memory, so only it can stop an escalation when someone acknowledges; and going
through the API means the same authentication, roles and audit trail (the token's
name is recorded as who acknowledged) as every other client.

    export TWIN_API_URL=http://127.0.0.1:8080 TWIN_API_TOKEN=...
    twin alerts list --state firing
    twin alerts ack 12 -m "on my way"
    twin alerts resolve 12 -m "replaced the bearing"
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import yaml
from rich.console import Console
from rich.table import Table

from analytics.alerts.config import AlertsConfig, load_config
from analytics.alerts.service import AlertService
from api.auth import HASH_PREFIX, ApiSettings, load_api_settings, token_digest
from api.server import ApiOptions, ApiServer
from twin.connect import influx_client, mqtt_credentials, mqtt_endpoint
from twin.deadletter import DeadLetterStore, store_path
from twin.errors import TwinError
from twin.influx import InfluxDB
from twin.plant import Plant, load_plant
from twin.settings import Settings

console = Console()
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _client(url: str | None, token: str | None) -> httpx.Client:
    settings = load_api_settings()
    token = token or (settings.token.get_secret_value() if settings.token else None)
    if not token:
        raise click.UsageError("no API token: set TWIN_API_TOKEN or pass --token")
    return httpx.Client(base_url=url or settings.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _call(method: str, path: str, *, url: str | None, token: str | None, **kwargs: Any) -> Any:
    try:
        with _client(url, token) as http:
            resp = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the twin API: {exc}") from None
    if resp.status_code >= 400:
        raise click.ClickException(f"HTTP {resp.status_code}: {_detail(resp)}")
    try:
        return resp.json()
    except ValueError:
        raise click.ClickException(f"the twin API at {resp.url} answered with something that is not JSON") from None


def _detail(resp: httpx.Response) -> str:
    """An API error as one line: FastAPI's `detail` text, or its validation errors joined."""
    try:
        detail = resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        detail = resp.text
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', e)}"
                           if isinstance(e, dict) else str(e) for e in detail)
    return " ".join(str(detail).split())[:500]


_url_opt = click.option("--url", envvar="TWIN_API_URL", default=None, help="API base URL [TWIN_API_URL]")
_token_opt = click.option("--token", default=None, help="API token (default: TWIN_API_TOKEN)")


@click.group("alerts")
def alerts() -> None:
    """Alerts: list, acknowledge, resolve; serve the alert manager and API."""


@alerts.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["firing", "acknowledged", "resolved"]))
@click.option("--severity", "severities", multiple=True, type=click.Choice(["info", "warning", "critical"]))
@click.option("--asset", default=None, help="asset path pattern, e.g. plant1/machining/**")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON (the API's objects), one per line.")
@_url_opt
@_token_opt
def list_cmd(states: tuple[str, ...], severities: tuple[str, ...], asset: str | None, limit: int, as_json: bool,
             url: str | None, token: str | None) -> None:
    """List alerts, newest first."""
    params: list[tuple[str, str | int]] = [("limit", limit)]
    params += [("state", s) for s in states] + [("severity", s) for s in severities]
    if asset:
        params.append(("asset", asset))
    rows = _call("GET", "/alerts", url=url, token=token, params=params)
    if as_json:
        for a in rows:
            click.echo(json.dumps(a, ensure_ascii=False))
        return
    table = Table("id", "state", "severity", "asset", "kind", "count", "last seen", "message", "ack by")
    for a in rows:
        table.add_row(str(a["id"]), a["state"], f"[{_SEVERITY_STYLE.get(a['severity'], '')}]{a['severity']}",
                      a["asset"], a["kind"], str(a["count"]), a["last_seen"][:19], a["message"][:60],
                      a.get("acked_by") or "")
    console.print(table)


@alerts.command("token-hash")
def token_hash_cmd() -> None:
    """Print the sha256:<hex> form of a token read from standard input, for TWIN_API_TOKENS."""
    token = sys.stdin.readline().strip()
    if len(token) < 8:
        raise click.ClickException("give the token (at least 8 characters) on standard input")
    click.echo(HASH_PREFIX + token_digest(token).hex())


@alerts.command("ack")
@click.argument("alert_id", type=click.IntRange(1, 2**63 - 1))
@click.option("-m", "--comment", default=None)
@_url_opt
@_token_opt
def ack_cmd(alert_id: int, comment: str | None, url: str | None, token: str | None) -> None:
    """Acknowledge an alert (stops its escalation)."""
    a = _call("POST", f"/alerts/{alert_id}/ack", url=url, token=token, json={"comment": comment})
    console.print(f"alert {a['id']} [bold]{a['state']}[/] by {a['acked_by']}")


@alerts.command("resolve")
@click.argument("alert_id", type=click.IntRange(1, 2**63 - 1))
@click.option("-m", "--comment", default=None)
@_url_opt
@_token_opt
def resolve_cmd(alert_id: int, comment: str | None, url: str | None, token: str | None) -> None:
    """Resolve an alert by hand."""
    a = _call("POST", f"/alerts/{alert_id}/resolve", url=url, token=token, json={"comment": comment})
    console.print(f"alert {a['id']} [bold]{a['state']}[/] by {a['resolved_by']}")


def build_service(config: AlertsConfig, settings: Settings, api: ApiSettings, *, db_path: Path | None = None,
                  influx: InfluxDB | None = None, plant: Plant | None = None,
                  deadletters: DeadLetterStore | None = None, with_api: bool = True) -> AlertService:
    """An AlertService from the runtime settings (what `serve` and `twin demo` use)."""
    companions = [ApiServer(ApiOptions(tokens=api.parsed_tokens(), host=api.host, port=api.port))] if with_api else []
    return AlertService(config, db_path=db_path or settings.state_dir / "alerts.db",
                        mqtt_endpoint=mqtt_endpoint(settings), **mqtt_credentials(settings),
                        influx=influx, plant=plant, deadletters=deadletters, companions=companions)


async def serve_async(config: AlertsConfig, *, settings: Settings | None = None, api: ApiSettings | None = None,
                      db_path: Path | None = None, plant: Plant | None = None) -> None:
    """Run the alert manager and API until cancelled (InfluxDB annotations when TWIN_INFLUX_URL is set)."""
    settings = settings or Settings()
    api = api or load_api_settings()
    with DeadLetterStore(store_path(settings.state_dir)) as dead:
        async with contextlib.AsyncExitStack() as stack:
            db = await stack.enter_async_context(influx_client(settings)) if settings.influx_url else None
            await build_service(config, settings, api, db_path=db_path, influx=db, plant=plant,
                                deadletters=dead).run()


def _is_plant_file(path: Path) -> bool:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and "areas" in raw


@alerts.command("serve")
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="YAML with the alerts section (a plant file with `alerts:` works too; default: TWIN_PLANT_FILE)")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None,
              help="SQLite file (default: $TWIN_STATE_DIR/alerts.db)")
def serve(config_path: Path | None, db_path: Path | None) -> None:
    """Run the alert manager and the HTTP API (TWIN_API_HOST/PORT, tokens from TWIN_API_TOKENS)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=os.environ.get("TWIN_LOG_LEVEL", "INFO"),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        api = load_api_settings()
        if not api.parsed_tokens():
            console.print("[yellow]TWIN_API_TOKENS is empty: every API request will be refused (401)[/]")
        config = load_config(config_path or settings.plant_file)
        # Alert events must name assets of the plant: the plant file is --config when that is
        # one, else TWIN_PLANT_FILE.
        plant = load_plant(config_path if config_path and _is_plant_file(config_path) else settings.plant_file)
        console.print(f"alerts: API on http://{api.host}:{api.port}/docs, "
                      f"{len(config.routes)} routes, {len(config.channels)} channels")
        asyncio.run(serve_async(config, settings=settings, api=api, db_path=db_path, plant=plant))
    except KeyboardInterrupt:
        pass
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
