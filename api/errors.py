"""The API package's root exception."""

from __future__ import annotations

from twin.errors import TwinError


class ApiError(TwinError):
    """The API is misconfigured (e.g. TWIN_API_TOKENS); the message says which entry."""
