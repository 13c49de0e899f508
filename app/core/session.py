"""Session timing: where in a program a given amount of active (unpaused) time falls.

Pure functions over a :class:`~app.core.program.Program`. Active time is program time: it runs only
while the belt is running and stops during pauses, turnarounds and countdowns.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

from .program import Phase, Program
from .record import Record


class Position(Record):
    index: int            # current phase, 0-based; == len(phases) when the program is done
    into_phase: float     # seconds into the current phase
    phase_left: float     # seconds left in the current phase
    session_left: float   # seconds left in the whole program
    done: bool

    @property
    def phases_completed(self) -> int:
        return self.index


@lru_cache(maxsize=64)
def phase_ends(program: Program) -> tuple[float, ...]:
    """Cumulative end time of each phase, in active seconds."""
    ends = []
    total = 0.0
    for phase in program.phases:
        total += phase.seconds
        ends.append(total)
    return tuple(ends)


def phase_start(program: Program, index: int) -> float:
    return 0.0 if index <= 0 else phase_ends(program)[index - 1]


def position(program: Program, active_seconds: float) -> Position:
    """Where *active_seconds* of program time falls. A phase ends exactly at its boundary."""
    ends = phase_ends(program)
    total = ends[-1] if ends else 0.0
    active = max(0.0, active_seconds)
    if active >= total - 1e-9:
        return Position(len(ends), 0.0, 0.0, 0.0, True)
    index = bisect_right(ends, active + 1e-9)
    start = phase_start(program, index)
    return Position(index, active - start, ends[index] - active, total - active, False)


def phase(program: Program, index: int) -> Phase | None:
    if 0 <= index < len(program.phases):
        return program.phases[index]
    return None


def format_clock(seconds: float) -> str:
    """``"1:05"`` or ``"1:02:05"``; rounds up so a countdown never shows 0:00 too early."""
    whole = int(max(0.0, seconds) + 0.999)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
