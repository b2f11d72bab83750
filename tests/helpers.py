"""Test helpers: run services as background tasks, build plant files on free ports, poll."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import yaml

from app.localservers import free_port
from twin.plant import Plant, parse_plant

EXAMPLE_PLANT = Path(__file__).resolve().parents[1] / "examples" / "plant.yaml"


def example_plant(*, opcua_port: int | None = None) -> Plant:
    """The shipped example plant with its OPC UA server moved to a free port."""
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    port = opcua_port or free_port()
    for conn in raw["connections"]["opcua"].values():
        conn["endpoint"] = f"opc.tcp://127.0.0.1:{port}"
    return parse_plant(raw, source=str(EXAMPLE_PLANT))


@contextlib.asynccontextmanager
async def running(*coros: Coroutine[Any, Any, Any]) -> AsyncIterator[list[asyncio.Task[Any]]]:
    """Run coroutines as tasks for the body of a with-block; fail loudly if one dies early."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield tasks
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0,
                     interval_s: float = 0.2) -> None:
    """Poll an async condition until it holds; AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
