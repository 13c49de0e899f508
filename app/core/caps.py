"""Speed and incline caps (docs/safety.md, rule 7).

Every command the station sends to a treadmill passes through :meth:`Caps.clamp`, whatever the
program file says. The station's caps come from the config; a program or a member can only
tighten them, never loosen them.
"""

from __future__ import annotations

from .record import Record
from .units import KMH_PER_MPH

# Default caps. Sources: docs/practice.md "Dose and progression": a comfortable backward target is about
# 2.0 mph and 3.0-3.5 mph holding the rails; backward jogging intervals for the experienced go a
# little above that, so the hard cap leaves 1 mph of headroom over 3.5 mph. Forward phases in
# backward programs are walking or slow jogging. Inclines: backward incline work in practice stays
# at a few percent on 1.0-2.0 mph; the ACL incline trials' 5 degrees is about 8.7 % grade.
DEFAULT_BACKWARD_SPEED_KMH = 4.5 * KMH_PER_MPH
DEFAULT_FORWARD_SPEED_KMH = 6.0 * KMH_PER_MPH
DEFAULT_BACKWARD_INCLINE_PCT = 10.0
DEFAULT_FORWARD_INCLINE_PCT = 15.0

#: docs/safety.md, rule 4: the first phase never starts above 1.0 mph unless the program is advanced.
FIRST_PHASE_SPEED_KMH = 1.0 * KMH_PER_MPH


class Caps(Record):
    """Upper limits, in km/h and percent grade, for each walking direction."""

    backward_speed_kmh: float = DEFAULT_BACKWARD_SPEED_KMH
    forward_speed_kmh: float = DEFAULT_FORWARD_SPEED_KMH
    backward_incline_pct: float = DEFAULT_BACKWARD_INCLINE_PCT
    forward_incline_pct: float = DEFAULT_FORWARD_INCLINE_PCT

    def speed_for(self, direction: str) -> float:
        return self.backward_speed_kmh if direction == "backward" else self.forward_speed_kmh

    def incline_for(self, direction: str) -> float:
        return self.backward_incline_pct if direction == "backward" else self.forward_incline_pct

    def clamp(self, direction: str, speed_kmh: float, incline_pct: float) -> tuple[float, float]:
        """Return *(speed, incline)* within the caps; negative or non-finite values become 0."""
        speed = _finite_or_zero(speed_kmh)
        incline = _finite_or_zero(incline_pct)
        speed = min(max(speed, 0.0), self.speed_for(direction))
        incline = min(max(incline, 0.0), self.incline_for(direction))
        return speed, incline

    def tightened(self, other: "Caps | None") -> "Caps":
        """The stricter of two sets of caps: a program or member never loosens the station's."""
        if other is None:
            return self
        return Caps(
            backward_speed_kmh=min(self.backward_speed_kmh, other.backward_speed_kmh),
            forward_speed_kmh=min(self.forward_speed_kmh, other.forward_speed_kmh),
            backward_incline_pct=min(self.backward_incline_pct, other.backward_incline_pct),
            forward_incline_pct=min(self.forward_incline_pct, other.forward_incline_pct),
        )


def _finite_or_zero(value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    if value != value or value in (float("inf"), float("-inf")):
        return 0.0
    return value
