"""`twin dashboards …`: write the dashboard JSON, or upload the dashboards to a running Grafana.

The group is registered in twin/cli.py; it can also run on its own
(`python -m dashboards.cli generate`).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from dashboards.build import FOLDER_UID, JSON_DIR, generate
from dashboards.push import PushError, load, push

console = Console()


@click.group("dashboards")
def dashboards() -> None:
    """Grafana dashboards as code: generate the JSON, push to Grafana."""


@dashboards.command("generate")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=JSON_DIR,
              show_default=True, help="folder to write the dashboard JSON into")
def generate_cmd(out_dir: Path) -> None:
    """Write one JSON file per dashboard (what provisioning mounts and `push` uploads)."""
    try:
        written = generate(out_dir)
    except OSError as exc:  # a read-only or virtual filesystem, a file where a folder should be
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out_dir) else ""
        raise click.BadParameter(f"{out_dir}: cannot write the dashboards{where}: {exc.strerror or exc}",
                                 param_hint="--out") from None
    for path in written:
        console.print(f"wrote [bold]{path}[/bold]")


@dashboards.command("push")
@click.option("--url", required=True, envvar="TWIN_GRAFANA_URL", help="Grafana base URL, e.g. http://127.0.0.1:3000")
@click.option("--token", required=True, envvar="TWIN_GRAFANA_TOKEN",
              help="service-account token with Editor rights (or set TWIN_GRAFANA_TOKEN)")
@click.option("--from", "json_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="push the JSON files in this folder instead of freshly generated dashboards")
def push_cmd(url: str, token: str, json_dir: Path | None) -> None:
    """Create/update the folder and upload every dashboard with overwrite (safe to repeat)."""
    try:
        result = push(url=url, token=token, dashboards=load(json_dir))
    except PushError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "created" if result.folder_created else "renamed" if result.folder_renamed else "kept"
    console.print(f"folder [bold]{FOLDER_UID}[/bold] {verb}")
    for uid, path in result.dashboards.items():
        console.print(f"saved [bold]{uid}[/bold] {url.rstrip('/')}{path}")


if __name__ == "__main__":
    dashboards()
