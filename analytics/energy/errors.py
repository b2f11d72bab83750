"""The one exception hierarchy of the energy analytics package."""

from __future__ import annotations

from twin.errors import TwinError


class EnergyError(TwinError):
    """Root of every error raised by `analytics.energy`."""


class ConfigError(EnergyError):
    """A tariff, factor table or meter configuration is unusable; the message says what to fix."""


class DataError(EnergyError):
    """Input data cannot be used (naive timestamps, missing columns, unknown asset...)."""
