"""The alert manager's exception hierarchy: every error raised by analytics.alerts derives from AlertsError."""

from __future__ import annotations

from twin.errors import TwinError


class AlertsError(TwinError):
    """Root of the alert manager's errors."""


class AlertNotFound(AlertsError):
    """No alert with that id."""


class InvalidTransition(AlertsError):
    """The requested lifecycle change is not allowed from the alert's current state."""


class DeliveryError(AlertsError):
    """A channel did not accept a notification (retried with backoff by the delivery loop)."""


class AlertsConfigError(AlertsError):
    """The alerts configuration is invalid; the message names the file and the field."""
