"""`twin opcua`: look into an OPC UA server before binding it — browse its variables, read a node.

    twin opcua browse opc.tcp://10.0.0.5:4840                       what is there (table)
    twin opcua browse opc.tcp://10.0.0.5:4840 --under "ns=2;s=cnc-01" --yaml --connection cell-1
    twin opcua read opc.tcp://10.0.0.5:4840 "ns=2;s=cnc-01.spindle_speed"
    twin opcua browse opc.tcp://10.0.0.5:4840 --policy Basic256Sha256 --mode SignAndEncrypt \
        --username edge --password-env TWIN_OPCUA_CNC07_PASSWORD

Security works as for the edge agent (docs/plant-file.md, "OPC UA security"): the same
application certificate under $TWIN_STATE_DIR/pki, the same trust list (`twin certs`).

`--yaml` prints plant-file signals (units from EngineeringUnits) to paste under an asset;
add the connection under `connections.opcua` and check with `twin plant check`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from asyncua import Client, ua
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from edge_agent.sources.opcua.browse import MAX_DEPTH, BrowseError, bindings_yaml, browse
from edge_agent.sources.opcua.config import OpcUaConnection
from edge_agent.sources.opcua.pki import Pki, application_uri
from edge_agent.sources.opcua.source import OpcUaSource
from twin.settings import Settings
from twin.stats import Stats

console = Console()
T = TypeVar("T")

endpoint_arg = click.argument("endpoint")


def security_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--policy, --mode, --username, --password-env: as a connection of the plant file."""
    for option in reversed([
        click.option("--policy", default="None", show_default=True, metavar="POLICY",
                     help="Security policy: None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss."),
        click.option("--mode", default="None", show_default=True, metavar="MODE",
                     help="Security mode: None, Sign, SignAndEncrypt."),
        click.option("--username", default=None, help="User name (else anonymous)."),
        click.option("--password-env", default=None, metavar="VAR",
                     help="Environment variable holding the password (never the password itself)."),
    ]):
        f = option(f)
    return f
timeout_option = click.option("--timeout", "timeout_s", type=click.FloatRange(0.5, 120), default=5.0,
                              show_default=True, help="Seconds to wait for the server.")


def _endpoint(value: str) -> str:
    if not value.startswith("opc.tcp://"):
        raise click.BadParameter(f"{value!r} is not an OPC UA endpoint (opc.tcp://host:port)", param_hint="ENDPOINT")
    return value


def _connection(endpoint: str, policy: str, mode: str, username: str | None,
                password_env: str | None) -> OpcUaConnection:
    try:
        return OpcUaConnection.model_validate({"endpoint": _endpoint(endpoint), "security_policy": policy,
                                               "security_mode": mode, "username": username,
                                               "password_env": password_env})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(problems) from None


def _run(connection: OpcUaConnection, timeout_s: float, work: Callable[[Client], Awaitable[T]]) -> T:
    endpoint = connection.endpoint

    async def main() -> T:
        client = Client(endpoint, timeout=timeout_s)
        source = OpcUaSource(name="browse", connection=connection, signals=[], stats=Stats("opcua.browse"),
                             pki=Pki(Settings().state_dir / "pki", application_uri=application_uri()))
        try:
            await source.prepare(client)
            await client.connect()
        except ua.UaStatusCodeError as exc:
            raise BrowseError(f"{endpoint} refused the session: {exc}") from None
        except (OSError, TimeoutError, ua.UaError) as exc:
            raise BrowseError(f"cannot connect to {endpoint}: {exc or type(exc).__name__}") from None
        try:
            return await work(client)
        except ua.UaError as exc:
            raise BrowseError(f"{endpoint}: {exc}") from None
        finally:
            try:
                await client.disconnect()
            except Exception:  # the session is gone anyway
                pass

    try:
        return asyncio.run(main())
    except BrowseError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("opcua")
def opcua() -> None:
    """Browse an OPC UA server's variables (to bind them in the plant file); read a node."""


@opcua.command("browse")
@endpoint_arg
@click.option("--under", "start", default=None, metavar="NODE", help="Start below this node id (default: Objects).")
@click.option("--depth", type=click.IntRange(1, 50), default=MAX_DEPTH, show_default=True)
@click.option("--yaml", "as_yaml", is_flag=True, help="Print plant-file signal bindings instead of a table.")
@click.option("--connection", default="cell-1", show_default=True,
              help="The connections.opcua name the bindings use (with --yaml).")
@security_options
@timeout_option
def browse_cmd(endpoint: str, start: str | None, depth: int, as_yaml: bool, connection: str, policy: str,
               mode: str, username: str | None, password_env: str | None, timeout_s: float) -> None:
    """List the variables below a node: node id, browse path, data type, unit and range."""
    if start is not None:
        try:
            ua.NodeId.from_string(start)
        except (ValueError, ua.UaError) as exc:
            raise click.BadParameter(f"{start!r} is not a node id: {exc}", param_hint="--under") from None
    server = _connection(endpoint, policy, mode, username, password_env)
    variables = _run(server, timeout_s, lambda c: browse(c, start, max_depth=depth))
    if as_yaml:
        click.echo(bindings_yaml(variables, connection=connection), nl=False)
        return
    table = Table(title=f"{endpoint}: {len(variables)} variables")
    for col in ("node", "browse path", "type", "unit", "range"):
        table.add_column(col, overflow="fold")
    for v in variables:
        rng = f"{v.eu_range[0]:g} … {v.eu_range[1]:g}" if v.eu_range else ""
        table.add_row(v.node_id, "/".join(v.path), v.data_type, v.unit, rng)
    console.print(table)


@opcua.command("read")
@endpoint_arg
@click.argument("node")
@security_options
@timeout_option
def read_cmd(endpoint: str, node: str, policy: str, mode: str, username: str | None, password_env: str | None,
             timeout_s: float) -> None:
    """Read one node's value, status and source time."""
    try:
        ua.NodeId.from_string(node)
    except (ValueError, ua.UaError) as exc:
        raise click.BadParameter(f"{node!r} is not a node id: {exc}", param_hint="NODE") from None

    async def read(client: Client) -> Any:
        return await client.get_node(node).read_data_value()

    dv = _run(_connection(endpoint, policy, mode, username, password_env), timeout_s, read)
    status = dv.StatusCode.name if dv.StatusCode is not None else "Good"
    value = dv.Value.Value if dv.Value is not None else None
    console.print(f"{node} = {value!r}  [{status}]  source time {dv.SourceTimestamp}")
