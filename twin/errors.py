"""The root of factory-twin's exception hierarchy: every error a user can act on derives from it."""

from __future__ import annotations


class TwinError(Exception):
    """Base class for errors that carry a message a user can act on."""


class ConfigError(TwinError):
    """A plant file or a runtime setting is invalid; the message names the place and the fix."""


class PayloadError(TwinError):
    """A message on the wire could not be decoded; the message says why."""
