"""The SPC package's exception hierarchy: one root, `SpcError`, so callers can catch it all."""

from __future__ import annotations

from twin.errors import TwinError


class SpcError(TwinError):
    """Root of every error raised by analytics.spc."""


class SpcConfigError(SpcError, ValueError):
    """A chart was configured with parameters it cannot use (e.g. sigma <= 0, n out of range)."""


class SpcDataError(SpcError, ValueError):
    """The data cannot be analysed as asked (too few points, wrong shape, negative counts...)."""
