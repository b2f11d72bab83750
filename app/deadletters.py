"""`twin deadletters`: list what the services refused, and replay it once the cause is fixed.

    twin deadletters list                    what is kept and not yet replayed, oldest first
    twin deadletters list --service ingest --json
    twin deadletters replay --service ingest after adding the missing signal to the plant file
    twin deadletters replay --id 17 --id 18

The store is $TWIN_STATE_DIR/deadletters.sqlite (twin/deadletter.py). Replaying publishes
each payload again, QoS 1, on the topic it came from, and marks it replayed; several
services may have refused the same message (ingest and each analytic read telemetry), so
identical topic and payload are published once. A message that is still refused becomes a
new dead letter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from twin.clirun import load_settings, run_service
from twin.connect import mqtt_client
from twin.deadletter import DeadLetterStore, StoredDeadLetter, store_path
from twin.errors import TwinError
from twin.settings import Settings

console = Console()

service_option = click.option("--service", default=None,
                              help="Only those of one service: ingest, alerts, analytics (or analytics.spc), edge.")
db_option = click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                         help="Dead-letter store (default: $TWIN_STATE_DIR/deadletters.sqlite).")


def _store(db_path: Path | None) -> DeadLetterStore:
    path = db_path or store_path(load_settings().state_dir)
    if not path.exists():
        raise click.ClickException(f"no dead-letter store at {path} (nothing was refused yet, or set TWIN_STATE_DIR)")
    return DeadLetterStore(path)


@click.group("deadletters")
def deadletters() -> None:
    """Messages the services refused, with the reason: list them, replay them."""


@deadletters.command("list")
@service_option
@db_option
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--all", "include_replayed", is_flag=True, help="Include those already replayed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the whole payload.")
def list_cmd(service: str | None, db_path: Path | None, limit: int, include_replayed: bool, as_json: bool) -> None:
    """List kept dead letters, oldest first."""
    with _store(db_path) as store:
        rows = store.entries(service=service, limit=limit, include_replayed=include_replayed)
        total = store.count(service=service, include_replayed=include_replayed)
        dropped = store.dropped
    if as_json:
        for d in rows:
            click.echo(json.dumps({"id": d.id, "service": d.service, "topic": d.topic, "reason": d.reason,
                                   "repeats": d.repeats,
                                   "received": d.received.isoformat(),
                                   "replayed": d.replayed.isoformat() if d.replayed else None,
                                   "payload": d.payload.decode("utf-8", errors="replace")}, ensure_ascii=False))
        return
    note = f" ({dropped} dropped when the store was full)" if dropped else ""
    table = Table(title=f"dead letters: {len(rows)} of {total}{note}")
    for col in ("id", "received", "service", "topic", "reason", "repeats", "payload"):
        table.add_column(col, overflow="fold")
    for d in rows:
        table.add_row(str(d.id), d.received.strftime("%Y-%m-%d %H:%M:%S"), d.service, d.topic, d.reason[:200],
                      str(d.repeats), d.preview(60))
    console.print(table)


@deadletters.command("replay")
@service_option
@db_option
@click.option("--id", "ids", type=click.IntRange(1), multiple=True, help="Replay these (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@click.option("--dry-run", is_flag=True, help="Say what would be published, publish nothing.")
def replay_cmd(service: str | None, db_path: Path | None, ids: tuple[int, ...], limit: int, dry_run: bool) -> None:
    """Publish kept dead letters again on their original topics (TWIN_MQTT_URL) and mark them replayed."""
    with _store(db_path) as store:
        rows = store.get(list(ids)) if ids else store.entries(service=service, limit=limit)
        pending = [d for d in rows if d.replayed is None]
        unique = _unique(pending)
        if dry_run:
            console.print(f"would publish {len(unique)} messages ({len(pending)} dead letters)")
            return
        if not unique:
            console.print("nothing to replay")
            return
        settings = load_settings()
        published = run_service(_publish(settings, unique))
        if published is None:  # stopped by Ctrl-C: nothing is marked
            return
        done = {(d.topic, d.payload) for d in published}
        store.mark_replayed([d.id for d in pending if (d.topic, d.payload) in done], datetime.now(UTC))
    console.print(f"replayed {len(published)} messages ({len(pending)} dead letters)")
    if len(published) < len(unique):
        raise click.ClickException(f"{len(unique) - len(published)} messages were not published; run replay again")


def _unique(rows: list[StoredDeadLetter]) -> list[StoredDeadLetter]:
    seen: set[tuple[str, bytes]] = set()
    out = []
    for d in rows:
        if (d.topic, d.payload) not in seen:
            seen.add((d.topic, d.payload))
            out.append(d)
    return out


async def _publish(settings: Settings, rows: list[StoredDeadLetter]) -> list[StoredDeadLetter]:
    done: list[StoredDeadLetter] = []
    async with mqtt_client(settings, "twin-deadletters-replay") as client:
        try:
            await client.wait_connected(timeout_s=10)
            for d in rows:
                await client.publish(d.topic, d.payload, qos=1, timeout_s=10)
                done.append(d)
        except TwinError as exc:
            # What went out is marked replayed; say where it stopped.
            console.print(f"[yellow]stopped after {len(done)} of {len(rows)}: {exc}[/]")
    return done
