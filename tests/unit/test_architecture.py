"""The house: the core imports nothing above it, plugins register themselves, light services stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twin.plugins import Scope, registry, simulator_refs

ROOT = Path(__file__).resolve().parents[2]


def test_import_contract_holds() -> None:
    """`lint-imports` (the layers contract in pyproject.toml) passes on the tree."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_every_protocol_and_analytic_is_a_registered_plugin() -> None:
    plugins = registry()
    assert set(plugins.sources) == {"opcua", "mqtt"}
    assert {p.name for p in plugins.analytics_in(Scope.SIGNAL)} == {"spc", "completeness"}
    assert {p.name for p in plugins.analytics_in(Scope.ASSET)} == {"pdm"}
    assert {p.name for p in plugins.analytics_in(Scope.PLANT)} == {"alerts", "energy"}
    # The simulator plays every protocol the edge reads.
    assert set(simulator_refs()) == set(plugins.sources)


def test_loading_a_plant_imports_no_engine_or_protocol_stack() -> None:
    """What the edge agent and ingest pay for reading the plant file: no asyncua, sklearn, SPC engine or Apprise."""
    code = ("import json, sys; from twin.plant import load_plant; load_plant('examples/plant.yaml'); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('asyncua', 'sklearn', 'apprise', 'fastapi') or m in ('analytics.spc.service', "
            "'analytics.pdm.service', 'analytics.energy.service', 'edge_agent.sources.opcua.source'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    assert json.loads(out.stdout) == []
