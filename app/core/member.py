"""A member: who is walking, in which units, and what their therapist allows."""

from __future__ import annotations

from .caps import Caps
from .record import Record


class Member(Record):
    id: int
    name: str
    units: str = "mph"
    caps: Caps | None = None
    #: Off until a therapist turns it on: while off, every phase counts as rails-required.
    hands_free_allowed: bool = False
