"""What every `twin` command shares: settings, the plant, running until stopped, and how errors end it.

Used by app/cli.py and by the analytics groups' `run` commands, so each of them loads
settings and the plant file the same way (a bad TWIN_* variable or plant file is one
clean error, no traceback) and stops the same way (Ctrl-C or SIGTERM, `kill -USR1 PID`
prints every asyncio task and where it waits). `main_entry` is the console entry point's
safety net: whatever a command lets escape ends as one `Error:` line, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn

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
    except ExceptionGroup as group:
        # A service is a TaskGroup: when several of its tasks fail (the broker and the database
        # both unreachable), they arrive together. Errors a user can act on become one line;
        # anything else is a bug and goes on to main_entry's safety net.
        leaves = _leaves(group)
        if all(isinstance(leaf, TwinError) for leaf in leaves):
            raise click.ClickException(_join(leaves)) from None
        raise


DEBUG_ENV = "TWIN_DEBUG"


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions in a (nested) exception group, depth first."""
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


def _join(errors: list[BaseException]) -> str:
    """Several errors as one line: each distinct message once, in order."""
    messages = list(dict.fromkeys(" ".join(str(e).split()) or type(e).__name__ for e in errors))
    return messages[0] if len(messages) == 1 else f"{len(messages)} errors: " + "; ".join(messages)


def _internal(errors: list[BaseException]) -> str:
    """`internal error: Type: message` for exceptions nobody translated (a bug, or a case not foreseen)."""
    parts = []
    for e in errors:
        message = " ".join(str(e).split())
        parts.append(f"{type(e).__name__}: {message}" if message else type(e).__name__)
    text = "; ".join(dict.fromkeys(parts))
    if len(text) > 500:  # one line, even when the message embeds a whole document
        text = text[:500] + "…"
    return f"internal error: {text} (set {DEBUG_ENV}=1 for the traceback)"


def _fail(message: str, exc: BaseException | None = None) -> NoReturn:
    if exc is not None and os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def main_entry(group: click.Group, *, prog_name: str) -> None:
    """Run the CLI and exit: one `Error:` line and exit 1 for any error, 130 on Ctrl-C, no traceback.

    Click reports its own errors (usage, bad parameters, ClickException) as it does in
    standalone mode. A TwinError is an error the user can act on: its message is the
    report. Any other exception is a bug; it is one line naming its type, and the
    traceback is printed only with TWIN_DEBUG=1.
    """
    # Not standalone_mode=True: click would turn Ctrl-C into "Aborted!" and exit 1, and a
    # shell (or a supervisor) tells an interrupted command by 128 + SIGINT.
    try:
        rv = group.main(prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            sys.exit(130)
        click.echo("Aborted!", err=True)  # EOF at a prompt, or a command's explicit abort
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except TwinError as exc:
        _fail(str(exc), exc)
    except ExceptionGroup as exc:
        leaves = _leaves(exc)
        if all(isinstance(leaf, TwinError) for leaf in leaves):
            _fail(_join(leaves), exc)
        _fail(_internal([leaf for leaf in leaves if not isinstance(leaf, TwinError)]), exc)
    except Exception as exc:  # click itself deals with a broken pipe (output piped into `head`)
        _fail(_internal([exc]), exc)
    # Without standalone mode, click returns ctx.exit(code)'s code, or else what the command returned.
    sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)
