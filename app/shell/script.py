"""Simulation scripts and sim-control commands (docs/commands.md, Simulation scripts).

A script line is ``SECONDS WHAT [ARG]`` with ``#`` comments; a sim-control command is the same
without the time column. Every problem is reported as ``file:line: problem`` and all of them at
once, never as a traceback. Numbers (the time, a score) follow the one rule of
:mod:`app.core.numbers`: ASCII digits with an optional fraction, any whitespace around them, a
leading byte-order mark ignored, a bounded value. docs/commands.md "Simulation scripts" documents it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.events import TAP_EVENTS
from ..core.numbers import BOM, NumberError, echo, parse_decimal, parse_whole

#: Latest time a script line may carry: one day on the script's clock. A program lasts at most two
#: hours (docs/programs.md); a day leaves room for any pause a test wants, and keeps every time a
#: plain number the clock, the store and a sleep can use (``1e308`` overflowed when stored).
MAX_SCRIPT_SECONDS = 24 * 60 * 60.0
#: Largest script file read by ``backstep simulate``: tens of thousands of lines.
MAX_SCRIPT_BYTES = 1024 * 1024
#: At most this many problems are listed, then a count: a wrong file gives a screenful, not a flood.
MAX_PROBLEMS = 20

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
    """``"rails released"`` -> ``Command("rails", "released")``; raises ValueError with the reason
    (one short line: a quoted word is cut to :data:`~app.core.numbers.ECHO_CHARS` characters)."""
    words = _strip_bom(text).split("#", 1)[0].split()
    if not words:
        raise ValueError("empty command")
    what = words[0].lower()
    if what not in COMMANDS:
        raise ValueError(f"unknown command {echo(words[0])}; use one of: {', '.join(COMMANDS)}")
    allowed = COMMANDS[what]
    args = [w.lower() for w in words[1:]]
    if what == "score":
        if len(args) != 2 or args[0] not in allowed:
            raise ValueError("'score' needs before | after | effort and a whole number 0-10, e.g. 'score after 3'")
        try:
            value = parse_whole(args[1], minimum=0, maximum=10, what="a score")
        except NumberError as exc:
            raise ValueError(f"'score {args[0]}': {exc}") from None
        return Command(what, args[0], value)
    if not allowed:
        if args:
            raise ValueError(f"'{what}' takes nothing after it (got {echo(' '.join(words[1:]))})")
        return Command(what)
    if len(args) != 1 or args[0] not in allowed:
        got = echo(" ".join(words[1:])) if len(words) > 1 else "nothing"
        raise ValueError(f"'{what}' needs one of: {' | '.join(allowed)} (got {got})")
    return Command(what, args[0])


def parse_time(text: str) -> float:
    """The time column of a script line: seconds on the script's clock, by the one number rule of
    :mod:`app.core.numbers`, at most :data:`MAX_SCRIPT_SECONDS`. Raises ValueError with the reason."""
    try:
        return parse_decimal(text, maximum=MAX_SCRIPT_SECONDS, what="a time in seconds")
    except NumberError as exc:
        raise ValueError(f"{exc}; start the line with the seconds, e.g. '95 link lost'") from None


def parse_script(text: str, source: str = "<script>") -> list[ScriptLine]:
    """Parse a whole script. Times must not go backwards. Raises :class:`ScriptError` listing
    every problem as ``source:line: problem`` (the first :data:`MAX_PROBLEMS`, then a count)."""
    lines: list[ScriptLine] = []
    problems: list[str] = []
    last = 0.0
    for number, raw in enumerate(_strip_bom(text).splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        head, *rest = body.split(None, 1)  # any whitespace after the time: spaces or a tab
        try:
            seconds = parse_time(head)
            command = parse_command(rest[0] if rest else "")
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
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = [f"{source}: ... and {len(problems) - MAX_PROBLEMS} more problems"]
    if problems:
        raise ScriptError(problems)
    return lines


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith(BOM) else text
