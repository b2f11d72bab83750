"""Alerts that reach maintenance staff: one model, lifecycle, routing, notifications, acknowledgement.

Public names are re-exported here; see README.md for the model, configuration and API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics._lazy import lazy_exports

if TYPE_CHECKING:
    from analytics.alerts.config import AlertsConfig, load_config, parse_config
    from analytics.alerts.errors import AlertNotFound, AlertsConfigError, AlertsError, DeliveryError, InvalidTransition
    from analytics.alerts.manager import AlertManager
    from analytics.alerts.model import Action, Alert, AlertState, HistoryEntry
    from analytics.alerts.notify import AppriseNotifier, Notification, Notifier
    from analytics.alerts.service import AlertService, ApiOptions
    from analytics.alerts.store import AlertStore

# Public name → submodule; imported on first use (analytics/_lazy.py says why).
_EXPORTS = {
    "Action": "model",
    "Alert": "model",
    "AlertManager": "manager",
    "AlertNotFound": "errors",
    "AlertService": "service",
    "AlertState": "model",
    "AlertStore": "store",
    "AlertsConfig": "config",
    "AlertsConfigError": "errors",
    "AlertsError": "errors",
    "ApiOptions": "service",
    "AppriseNotifier": "notify",
    "DeliveryError": "errors",
    "HistoryEntry": "model",
    "InvalidTransition": "errors",
    "Notification": "notify",
    "Notifier": "notify",
    "load_config": "config",
    "parse_config": "config",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "Action",
    "Alert",
    "AlertManager",
    "AlertNotFound",
    "AlertService",
    "AlertState",
    "AlertStore",
    "AlertsConfig",
    "AlertsConfigError",
    "AlertsError",
    "ApiOptions",
    "AppriseNotifier",
    "DeliveryError",
    "HistoryEntry",
    "InvalidTransition",
    "Notification",
    "Notifier",
    "load_config",
    "parse_config",
]
