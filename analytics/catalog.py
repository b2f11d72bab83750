"""Every streaming analytic a plant file configures, built from the plugin registry.

`twin demo` and `twin analytics` run what this returns: each analytic plugin with a
`stream` builder (SPC for signals with an `spc:` section, predictive maintenance for
assets with a `pdm:` section, energy when the plant has an `energy:` section) builds its
analytic, or returns None when the plant configures nothing for it.
"""

from __future__ import annotations

from analytics.runtime import Analytic
from twin.plant import Plant
from twin.plugins import load_ref, registry
from twin.settings import Settings

# Results do not depend on the order; a fixed one keeps logs and the demo status stable.
ORDER = ("spc", "pdm", "energy")


def build_analytics(plant: Plant, settings: Settings) -> list[Analytic]:
    """The analytics this plant configures: the known ones in ORDER, then any others by name."""
    plugins = registry().analytics
    names = [n for n in ORDER if n in plugins] + sorted(set(plugins) - set(ORDER))
    built = []
    for name in names:
        ref = plugins[name].stream
        if ref is not None:
            analytic = load_ref(ref)(plant, settings)
            if analytic is not None:
                built.append(analytic)
    return built
