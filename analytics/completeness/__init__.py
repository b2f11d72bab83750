"""Data completeness: per signal, expected versus received samples per window, and silence alerts.

A gap that could not be prevented (a device off, a sensor unplugged, an OPC UA server with
no history) must be visible, not silent. This package exports its plugin contract; the
engine is `analytics.completeness.service`.
"""

from analytics.completeness.config import SignalCompleteness
from analytics.completeness.plugin import PLUGIN, completeness_config

__all__ = ["PLUGIN", "SignalCompleteness", "completeness_config"]
