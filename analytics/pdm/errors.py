"""Errors of the predictive-maintenance package; all derive from `twin.errors.TwinError`."""

from __future__ import annotations

from twin.errors import TwinError


class PdmError(TwinError):
    """Base class for predictive-maintenance errors a user can act on."""


class DataError(PdmError):
    """Input data cannot be used (missing column, no numeric signals, too few healthy rows)."""


class ModelError(PdmError):
    """A model file is missing, unreadable or does not match the features it is asked to score."""
