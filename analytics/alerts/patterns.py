"""Asset path patterns: how routes, rules and maintenance windows select a subtree of the plant.

A pattern has the shape of an asset path, 'site/area/line/asset', one glob per level
(`*`, `?`, `[..]` as in fnmatch, but never crossing a '/'); a final `**` matches
everything below. Examples: `plant1/**` (a whole site), `*/machining/*/*` (an area in
every site), `plant1/machining/line1/cnc-0?`.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache


def validate_pattern(pattern: str) -> str:
    """Return the pattern unchanged, or ValueError saying what is wrong with it."""
    parts = pattern.split("/")
    if not pattern or any(not p for p in parts):
        raise ValueError(f"asset pattern {pattern!r} has an empty level")
    if "**" in parts[:-1] or any("**" in p and p != "**" for p in parts):
        raise ValueError(f"asset pattern {pattern!r}: '**' is only allowed as the whole last level")
    if parts[-1] != "**" and len(parts) != 4:
        raise ValueError(f"asset pattern {pattern!r} must have 4 levels (site/area/line/asset) or end in '**'")
    if len(parts) > 5:
        raise ValueError(f"asset pattern {pattern!r} is deeper than site/area/line/asset")
    return pattern


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> tuple[list[re.Pattern[str]], bool]:
    parts = pattern.split("/")
    open_ended = parts[-1] == "**"
    if open_ended:
        parts = parts[:-1]
    return [re.compile(fnmatch.translate(p)) for p in parts], open_ended


def matches(pattern: str, path: str) -> bool:
    """True if the asset path ('site/area/line/asset') lies in the pattern's subtree."""
    levels, open_ended = _compile(pattern)
    parts = path.split("/")
    if len(parts) < len(levels) or (not open_ended and len(parts) != len(levels)):
        return False
    return all(rx.match(part) for rx, part in zip(levels, parts, strict=False))
