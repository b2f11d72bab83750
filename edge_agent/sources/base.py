"""What every edge-agent source is: something that emits normalised readings until cancelled.

Adding a protocol means adding a module in this folder that satisfies `Source`, not
editing a switch statement (CONVENTIONS.md, house habit 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from twin.readings import Reading

Emit = Callable[[Reading], None]


class Source(Protocol):
    """A source of readings. `ready` is set once it is connected and subscribed."""

    name: str
    ready: asyncio.Event

    async def run(self, emit: Emit) -> None:
        """Emit readings until cancelled; reconnect on its own with backoff."""
        ...
