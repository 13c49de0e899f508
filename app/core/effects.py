"""Effects: what the shell must do, named as imperatives. The only output of the safety core.

The core never touches hardware, sound or the database; it returns these and the main loop carries
them out in order. A stop is always listed before anything else in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .member import Member
from .program import Program


@dataclass(frozen=True)
class Effect:
    pass


@dataclass(frozen=True)
class StopBelt(Effect):
    """Tell the treadmill to stop the belt now (or, in cue mode, tell the person to)."""

    reason: str


@dataclass(frozen=True)
class SetBelt(Effect):
    """Run the belt at this target. Already within the caps; the link caps it again anyway."""

    speed_kmh: float
    incline_pct: float
    direction: str


@dataclass(frozen=True)
class PlaySound(Effect):
    """One of the cue sounds in assets/sounds: start, phase, warning, pause, estop, refused, resume, done."""

    name: str


@dataclass(frozen=True)
class Say(Effect):
    """A spoken or on-screen message, by catalogue key; the UI looks up the words."""

    key: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class RecordEvent(Effect):
    """Store this event with its time (DESIGN.md §2 rule 8). ``at`` is on the core's clock."""

    kind: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class OpenSession(Effect):
    program: Program
    member: Member | None
    at: float


@dataclass(frozen=True)
class CloseSession(Effect):
    status: str  # completed | stopped | emergency_stop
    at: float
    active_seconds: float
    phases_completed: int
    reason: str = ""


@dataclass(frozen=True)
class ScoreSession(Effect):
    """Store a pain (before/after) or effort score for the current or last session."""

    when: str
    score: int | None
    at: float
