"""Reading a YAML file for a configuration: every way it can fail is one ConfigError naming the file.

The plant file and the simulator's scenarios come from users, so a folder, a binary file,
an unreadable device or a document nested deeper than the parser's recursion limit must
end as a message saying which file and why, not as a traceback from the YAML parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from twin.errors import ConfigError


def read_yaml(path: str | Path, *, what: str) -> Any:
    """The parsed document of a YAML file (`what` names it in errors, e.g. "plant file")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give the {what} itself") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}); "
                          f"a {what} is YAML text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        # PyYAML composes nested nodes recursively; a few thousand `[` exhaust Python's stack.
        raise ConfigError(f"{path}: not a usable {what}: nested too deeply for the YAML parser") from None
