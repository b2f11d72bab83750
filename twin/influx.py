"""InfluxDB through the v1-compatible HTTP API: `/write` (line protocol) and `/query` (InfluxQL).

Every InfluxDB generation accepts these endpoints (1.x natively, 2.x through its v1
compatibility API with a DBRP mapping, 3.x natively), and so does Grafana's InfluxQL
data source; Flux does not exist in 3.x. See DESIGN.md §5.

Line protocol is produced by influxdb-client's `Point` serializer rather than by hand,
so tag/field escaping of hostile strings (spaces, commas, quotes, newlines, '=') is the
library's well-tested code. Queries take user strings only as bound parameters
(`params`), never spliced into the InfluxQL text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from influxdb_client import Point, WritePrecision

from twin.errors import TwinError

log = logging.getLogger(__name__)

FieldValue = float | int | bool | str


class InfluxError(TwinError):
    """InfluxDB refused a request or could not be reached.

    `retryable` is False when repeating the same request cannot succeed (a 4xx such as a
    field type conflict or bad line protocol); such batches go to the dead-letter topic.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def to_line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue | None],
            ts: datetime | int) -> str:
    """One point in line protocol; `ts` is a datetime or integer nanoseconds. None fields are left out."""
    point = Point(measurement)
    for key, value in tags.items():
        point.tag(key, value)
    for key, fvalue in fields.items():
        if fvalue is not None:
            point.field(key, fvalue)
    point.time(ts, WritePrecision.NS)
    line: str = point.to_line_protocol()
    if not line:
        raise ValueError(f"point for {measurement!r} has no fields")
    return line


def to_ns(ts: datetime) -> int:
    """Exact integer nanoseconds since the epoch for an aware datetime (no float rounding)."""
    delta = ts - datetime(1970, 1, 1, tzinfo=ts.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an InfluxQL result."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column, with the series tags merged in."""
        return [{**self.tags, **dict(zip(self.columns, row, strict=True))} for row in self.values]


class InfluxDB:
    """Async client for one database; an async context manager owning its HTTP connection pool."""

    def __init__(self, *, url: str, database: str, username: str | None = None,
                 password: str | None = None, token: str | None = None,
                 retention_policy: str | None = None, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        headers = {}
        auth: httpx.BasicAuth | None = None
        if token:
            # 2.x compatibility API and 3.x both accept "Token"; 1.x ignores it unless auth is on.
            headers["Authorization"] = f"Token {token}"
        elif username is not None:
            auth = httpx.BasicAuth(username, password or "")
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, auth=auth, timeout=timeout_s)

    async def __aenter__(self) -> InfluxDB:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def ping(self) -> str:
        """The server's version; InfluxError when it is not reachable."""
        try:
            resp = await self._http.get("/ping")
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB at {self.url} is not reachable: {exc}") from None
        if resp.status_code >= 400:
            raise InfluxError(f"InfluxDB ping failed: HTTP {resp.status_code}", status=resp.status_code)
        return str(resp.headers.get("X-Influxdb-Version", "unknown"))

    async def create_database(self) -> None:
        """CREATE DATABASE (1.x). On 2.x/3.x the bucket/DBRP is made by the deployment instead."""
        await self._post_query(f'CREATE DATABASE "{_ident(self.database)}"', database=None)

    async def write(self, lines: Sequence[str]) -> None:
        """Write line-protocol points in one request, nanosecond precision."""
        if not lines:
            return
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        body = "\n".join(lines).encode()
        try:
            resp = await self._http.post("/write", params=params, content=body)
        except httpx.HTTPError as exc:
            raise InfluxError(f"write to {self.url} failed: {exc}") from None
        if resp.status_code == 204:
            return
        detail = _error_text(resp)
        retryable = resp.status_code >= 500 or resp.status_code in (408, 429)
        raise InfluxError(f"InfluxDB refused the write (HTTP {resp.status_code}): {detail}",
                          status=resp.status_code, retryable=retryable)

    async def query(self, influxql: str, *, params: Mapping[str, Any] | None = None,
                    epoch: str | None = "ns") -> list[Series]:
        """Run a read-only InfluxQL query; user values go in `params` as $name bindings."""
        query_params: dict[str, str] = {"db": self.database, "q": influxql}
        if epoch:
            query_params["epoch"] = epoch
        if params:
            query_params["params"] = json.dumps(dict(params))
        try:
            resp = await self._http.get("/query", params=query_params)
        except httpx.HTTPError as exc:
            raise InfluxError(f"query to {self.url} failed: {exc}") from None
        return _series(resp, influxql)

    async def _post_query(self, influxql: str, *, database: str | None) -> list[Series]:
        params = {"q": influxql}
        if database:
            params["db"] = database
        try:
            resp = await self._http.post("/query", params=params)
        except httpx.HTTPError as exc:
            raise InfluxError(f"query to {self.url} failed: {exc}") from None
        return _series(resp, influxql)


def _series(resp: httpx.Response, influxql: str) -> list[Series]:
    if resp.status_code >= 400:
        raise InfluxError(f"query {influxql!r} failed (HTTP {resp.status_code}): {_error_text(resp)}",
                          status=resp.status_code, retryable=resp.status_code >= 500)
    out: list[Series] = []
    try:
        for result in resp.json().get("results", []):
            if "error" in result:
                raise InfluxError(f"query {influxql!r} failed: {result['error']}", retryable=False)
            for s in result.get("series", []):
                out.append(Series(s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values", [])))
    except (ValueError, AttributeError, KeyError, TypeError):
        # Not InfluxDB's JSON: TWIN_INFLUX_URL points at some other HTTP server (or a proxy's error page).
        raise InfluxError(f"{resp.url.scheme}://{resp.url.netloc.decode()} answered a query with something "
                          f"that is not InfluxDB's JSON (HTTP {resp.status_code}); is TWIN_INFLUX_URL right?",
                          status=resp.status_code, retryable=False) from None
    return out


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))
    except ValueError:
        return resp.text[:500]


def _ident(name: str) -> str:
    # Identifiers cannot be bound parameters in InfluxQL; escape the quote and backslash.
    return name.replace("\\", "\\\\").replace('"', '\\"')
