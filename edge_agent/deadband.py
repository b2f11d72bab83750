"""Report-by-exception: an absolute deadband per signal, applied at the edge.

A numeric reading passes when it differs from the last *passed* value by more than the
signal's deadband (comparing with the last passed value, not the last seen one, so a slow
drift is still reported once it has moved far enough). Quality changes, non-numeric
values and signals with deadband 0 always pass.
"""

from __future__ import annotations

from twin.plant import BoundSignal
from twin.readings import Quality, Reading, Value
from twin.topics import AssetPath


class Deadband:
    """Decides which readings are worth sending."""

    def __init__(self, signals: list[BoundSignal]) -> None:
        self._band = {(s.asset, s.name): s.spec.deadband for s in signals if s.spec.deadband > 0}
        self._last: dict[tuple[AssetPath, str], tuple[Value, Quality]] = {}
        self.suppressed = 0

    def passes(self, r: Reading) -> bool:
        """True if the reading should be sent."""
        key = (r.asset, r.signal)
        band = self._band.get(key)
        if band is None:
            return True
        last = self._last.get(key)
        value = r.value
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if (last is not None and numeric and last[1] is r.quality
                and isinstance(last[0], int | float) and abs(value - last[0]) <= band):  # type: ignore[operator]
            self.suppressed += 1
            return False
        self._last[key] = (value, r.quality)
        return True
