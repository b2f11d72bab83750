"""Grafana dashboards as code: the generator, Grafana's query substitution, and push.

`twin dashboards generate` writes json/; `twin dashboards push` uploads to Grafana.
See dashboards/README.md.
"""

from dashboards.build import FOLDER_UID, JSON_DIR, build_all, generate, rendered
from dashboards.push import PushError, push

__all__ = ["FOLDER_UID", "JSON_DIR", "PushError", "build_all", "generate", "push", "rendered"]
