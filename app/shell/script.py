"""Simulation scripts and sim-control commands (DESIGN.md §3.2).

A script line is ``SECONDS WHAT [ARG]`` with ``#`` comments; a sim-control command is the same
without the time column. Every problem is reported as ``file:line: problem`` and all of them at
once, never as a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.events import TAP_EVENTS

#: WHAT -> allowed ARGs. ``end`` takes none.
COMMANDS: dict[str, tuple[str, ...]] = {
    "lanyard": ("clipped", "pulled"),
    "rails": ("held", "released"),
    "tap": ("start", "pause", "resume", "stop", "confirm", "pain"),
    "link": ("lost", "restored"),
    # An extension for members' progress: "score before 3", "score after 5", "score effort 6".
    "score": ("before", "after", "effort"),
    "end": (),
}
#: ``tap WORD`` -> the touchscreen event it stands for.
TAPS = TAP_EVENTS

#: Commands that act on the (simulated) hardware rather than on the touchscreen.
HARDWARE = ("lanyard", "rails", "link")


class ScriptError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Command:
    what: str
    arg: str = ""
    value: int | None = None  # the 0-10 score of a ``score`` line

    @property
    def text(self) -> str:
        return " ".join(str(p) for p in (self.what, self.arg, self.value) if p not in ("", None))


@dataclass(frozen=True)
class ScriptLine:
    seconds: float
    command: Command
    line: int


def parse_command(text: str) -> Command:
    """``"rails released"`` -> ``Command("rails", "released")``; raises ValueError with the reason."""
    words = text.split("#", 1)[0].split()
    if not words:
        raise ValueError("empty command")
    what = words[0].lower()
    if what not in COMMANDS:
        raise ValueError(f"unknown command {words[0]!r}; use one of: {', '.join(COMMANDS)}")
    allowed = COMMANDS[what]
    args = [w.lower() for w in words[1:]]
    if what == "score":
        if len(args) != 2 or args[0] not in allowed or not (args[1].isdigit() and 0 <= int(args[1]) <= 10):
            raise ValueError("'score' needs before | after | effort and a whole number 0-10, e.g. 'score after 3'")
        return Command(what, args[0], int(args[1]))
    if not allowed:
        if args:
            raise ValueError(f"'{what}' takes nothing after it")
        return Command(what)
    if len(args) != 1 or args[0] not in allowed:
        got = " ".join(words[1:]) or "nothing"
        raise ValueError(f"'{what}' needs one of: {' | '.join(allowed)} (got {got})")
    return Command(what, args[0])


def parse_script(text: str, source: str = "<script>") -> list[ScriptLine]:
    """Parse a whole script. Times must not go backwards. Raises :class:`ScriptError` listing
    every problem as ``source:line: problem``."""
    lines: list[ScriptLine] = []
    problems: list[str] = []
    last = 0.0
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        head, _, rest = body.partition(" ")
        try:
            seconds = float(head)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{source}:{number}: {head!r} is not a time; start the line with the seconds, e.g. '95 link lost'")
            continue
        try:
            command = parse_command(rest)
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        if seconds < last:
            problems.append(f"{source}:{number}: time {seconds:g} is before the line above ({last:g}); keep lines in time order")
            continue
        last = seconds
        lines.append(ScriptLine(seconds, command, number))
    if not lines and not problems:
        problems.append(f"{source}: the script has no commands; write lines like '0 lanyard clipped'")
    if problems:
        raise ScriptError(problems)
    return lines
