"""The API package's exceptions, rooted in twin.errors.TwinError."""

from __future__ import annotations

from twin.errors import ConfigError, TwinError


class ApiError(TwinError):
    """Root of the API package's errors."""


class ApiConfigError(ApiError, ConfigError):
    """A TWIN_API_* setting is invalid; the message names the variable (never a secret's value)."""
