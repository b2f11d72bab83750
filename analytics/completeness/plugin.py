"""Registers data completeness (entry point `completeness` in `factory_twin.analytics`): a signal's `completeness:`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.completeness.config import SignalCompleteness
from twin.plant import Plant, Signal
from twin.plugins import AnalyticPlugin, Scope

if TYPE_CHECKING:
    from analytics.runtime import Analytic
    from twin.settings import Settings


def completeness_config(signal: Signal) -> SignalCompleteness | None:
    """The signal's expected arrival, or None when it declares none."""
    config: SignalCompleteness | None = signal.section("completeness")
    return config


def build_stream(plant: Plant, settings: Settings) -> Analytic | None:
    """The completeness analytic for every signal with a `completeness:` section (None when there is none)."""
    from analytics.completeness.service import build_completeness

    return build_completeness(plant)


PLUGIN = AnalyticPlugin(
    name="completeness", scope=Scope.SIGNAL, model=SignalCompleteness,
    stream="analytics.completeness.plugin:build_stream",
    summary="expected vs received samples, and an alert when the signal goes silent (analytics/completeness)",
)
