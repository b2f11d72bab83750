"""Time zone names from users (plant file, tariffs, `--tz`): one check, one message.

`ZoneInfo(key)` fails in three ways for a bad key: ZoneInfoNotFoundError (a KeyError) for
an unknown name, ValueError for a path-like key, and, on Python 3.11, IsADirectoryError
for a key that names a tzdata folder such as "America" (CPython gh-85702, fixed in 3.12).
Callers catching only the first two let the third out as a traceback.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from twin.errors import ConfigError


class UnknownTimeZone(ConfigError, ValueError):
    """Not an IANA time zone name; also a ValueError, so pydantic validators report it as a field error."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (ZoneInfo caches instances); UnknownTimeZone if there is none."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise UnknownTimeZone(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai or UTC") \
            from None
