"""What every `twin` command that runs a service shares: settings, the plant, and running until stopped.

Used by twin/cli.py and by the analytics groups' `run` commands, so each of them loads
settings and the plant file the same way (a bad TWIN_* variable or plant file is one
clean error, no traceback) and stops the same way (Ctrl-C or SIGTERM, `kill -USR1 PID`
prints every asyncio task and where it waits).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

from twin.errors import TwinError
from twin.plant import Plant, load_plant
from twin.settings import Settings

_err = Console(stderr=True)


def load_settings() -> Settings:
    """TWIN_* settings; a bad value is a ClickException naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid TWIN_* setting:\n{exc}") from None


def load_plant_file(path: Path | str | None, settings: Settings) -> Plant:
    """The plant file given, or TWIN_PLANT_FILE; a bad one is a ClickException naming the field."""
    try:
        return load_plant(path or settings.plant_file)
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None


def _dump_tasks() -> None:
    """SIGUSR1: print every asyncio task and where it waits, to stderr (for a service that seems stuck)."""
    tasks = asyncio.all_tasks()
    print(f"--- {len(tasks)} asyncio tasks", file=sys.stderr)
    for task in tasks:
        task.print_stack(limit=8, file=sys.stderr)
    sys.stderr.flush()


async def _with_task_dump(coro: Coroutine[Any, Any, Any]) -> Any:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
    try:
        return await coro
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)


def run_service(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a service until it ends, Ctrl-C or SIGTERM; TwinErrors become clean one-line errors.

    Returns the coroutine's result, or None when stopped. `kill -USR1 PID` prints every
    asyncio task's stack to stderr while it runs.
    """
    try:
        return asyncio.run(_with_task_dump(coro))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, or SIGTERM cancelling the main task
        _err.print("[dim]stopped[/]")
        return None
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
