"""Alerts that reach maintenance staff: one model, lifecycle, routing, notifications, acknowledgement.

Public names are re-exported here; see README.md for the model, configuration and API.
"""

from analytics.alerts.config import AlertsConfig, load_config, parse_config
from analytics.alerts.errors import AlertNotFound, AlertsConfigError, AlertsError, DeliveryError, InvalidTransition
from analytics.alerts.manager import AlertManager
from analytics.alerts.model import Action, Alert, AlertState, HistoryEntry
from analytics.alerts.notify import AppriseNotifier, Notification, Notifier
from analytics.alerts.service import AlertService, ApiOptions
from analytics.alerts.store import AlertStore

__all__ = [
    "Action", "Alert", "AlertManager", "AlertNotFound", "AlertService", "AlertState", "AlertStore",
    "AlertsConfig", "AlertsConfigError", "AlertsError", "ApiOptions", "AppriseNotifier", "DeliveryError",
    "HistoryEntry", "InvalidTransition", "Notification", "Notifier", "load_config", "parse_config",
]
