"""Every streaming analytic a plant file configures, built in one place.

`twin demo` and `twin analytics` run what this returns: SPC for signals with an `spc:`
section, predictive maintenance for assets with a `pdm:` section, energy when the plant
has an `energy:` section. Each builder returns None when the plant configures nothing for it.
"""

from __future__ import annotations

from analytics.runtime import Analytic
from twin.plant import Plant
from twin.settings import Settings


def build_analytics(plant: Plant, settings: Settings) -> list[Analytic]:
    """The analytics this plant configures, in a fixed order (spc, pdm, energy)."""
    from analytics.energy.service import build_energy
    from analytics.pdm.service import build_pdm
    from analytics.spc.service import build_spc

    built = [build_spc(plant), build_pdm(plant, settings.state_dir / "models"), build_energy(plant)]
    return [a for a in built if a is not None]
