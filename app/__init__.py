"""The composition root: the `twin` command, `twin demo`, service factories and the local-server launcher.

The only package that imports everything; nothing imports it (the import-linter contract
in pyproject.toml keeps it so).
"""
