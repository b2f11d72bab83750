"""Registers SPC (entry point `spc` in `factory_twin.analytics`): a signal's `spc:` section charts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.spc.config import CharacteristicSpc
from twin.plant import Plant, Signal
from twin.plugins import AnalyticPlugin, Scope

if TYPE_CHECKING:
    from analytics.runtime import Analytic
    from twin.settings import Settings


def characteristic(signal: Signal) -> CharacteristicSpc | None:
    """The signal's SPC settings, or None when it is not charted."""
    config: CharacteristicSpc | None = signal.section("spc")
    return config


def build_stream(plant: Plant, settings: Settings) -> Analytic | None:
    """The streaming SPC analytic for every charted signal (None when there is none), limits under the state folder."""
    from analytics.spc.service import build_spc
    from analytics.spc.store import LimitsStore, limits_path

    return build_spc(plant, limits=LimitsStore(limits_path(settings.state_dir)))


PLUGIN = AnalyticPlugin(
    name="spc", scope=Scope.SIGNAL, model=CharacteristicSpc, stream="analytics.spc.plugin:build_stream",
    summary="chart this signal as a quality characteristic (analytics/spc/config.py)",
)
