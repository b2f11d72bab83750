"""Upload the dashboards to a running Grafana through its HTTP API, idempotently.

grafana-client (the maintained successor of grafana-api) does the HTTP. Idempotent means
running it twice leaves Grafana as running it once: the folder is looked up by its
stable uid and created only when missing (renamed when its title differs); every
dashboard is saved with `overwrite: true` under its stable uid into that folder, so a
second push replaces the first instead of duplicating it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.build import FOLDER_TITLE, FOLDER_UID, rendered
from twin.errors import TwinError

log = logging.getLogger(__name__)


class PushError(TwinError):
    """Grafana refused or could not be reached, or a dashboard file is unusable; the message says which and why."""


@dataclass
class PushResult:
    """What a push did: whether the folder was created, and the dashboards saved (uid → URL path)."""

    folder_created: bool = False
    folder_renamed: bool = False
    dashboards: dict[str, str] = field(default_factory=dict)


def load(json_dir: Path | None = None) -> list[dict[str, Any]]:
    """The dashboards to push: the JSON files in `json_dir`, or freshly generated ones."""
    if json_dir is None:
        return [json.loads(text) for text in rendered().values()]
    files = sorted(json_dir.glob("*.json"))
    if not files:
        raise PushError(f"{json_dir}: no *.json dashboard files to push")
    return [_read_dashboard(p) for p in files]


def _read_dashboard(path: Path) -> dict[str, Any]:
    try:
        board = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PushError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise PushError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (OSError, RecursionError) as exc:
        raise PushError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(board, dict) or not isinstance(board.get("uid"), str) or not board["uid"]:
        raise PushError(f"{path}: not a dashboard: expected a JSON object with a \"uid\" string")
    return board


def _check_url(url: str) -> None:
    """A Grafana base URL is http(s)://host[:port][/path]; anything else fails here with a clear message."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsing the port is the check: ValueError when out of range
    except ValueError as exc:
        raise PushError(f"--url {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"--url {url!r} is not a Grafana URL: give http(s)://host[:port], e.g. http://127.0.0.1:3000")


def _reason(exc: BaseException) -> str:
    """The OS's reason inside requests' nested connection errors ("[Errno 111] Connection refused")."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    return found.group(0) if found else text


def push(*, url: str, token: str, dashboards: list[dict[str, Any]], folder_uid: str = FOLDER_UID,
         folder_title: str = FOLDER_TITLE, timeout_s: float = 10.0) -> PushResult:
    """Create or update the folder, then save every dashboard into it with overwrite."""
    _check_url(url)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    result = PushResult()
    try:
        result.folder_created, result.folder_renamed = _ensure_folder(api, folder_uid, folder_title)
        for board in dashboards:
            body = {**board, "id": None}  # match by uid, never by another instance's numeric id
            response = api.dashboard.update_dashboard({
                "dashboard": body, "folderUid": folder_uid, "overwrite": True,
                "message": "factory-twin dashboards push",
            })
            result.dashboards[str(board["uid"])] = str(response.get("url", ""))
            log.info("saved dashboard %s into folder %s", board["uid"], folder_uid)
    except GrafanaException as exc:
        raise PushError(f"Grafana at {url} refused the request (HTTP {exc.status_code}): {exc.message}") from None
    except OSError as exc:
        raise PushError(f"Grafana at {url} is not reachable: {_reason(exc)}") from None
    return result


def _ensure_folder(api: GrafanaApi, uid: str, title: str) -> tuple[bool, bool]:
    # grafana-client's folder methods carry no annotations; the calls below are its documented API.
    folders: Any = api.folder
    try:
        folder = folders.get_folder(uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        folders.create_folder(title, uid=uid)
        log.info("created folder %s (%s)", uid, title)
        return True, False
    if folder.get("title") != title:
        folders.update_folder(uid, title=title, overwrite=True)
        log.info("renamed folder %s to %s", uid, title)
        return False, True
    return False, False
