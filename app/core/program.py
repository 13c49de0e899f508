"""Interval programs: the model, the loader from a parsed TOML dict, and the validation rules.

A program file is written by a physical therapist (docs/programs.md). Every problem with it is
reported at once, one :class:`Problem` per line of output, naming the file, the line where it can,
the field, what is wrong and what is allowed. Nothing here raises on bad input.

The core keeps speeds in km/h; a program written in mph is converted on load and keeps its
``units`` so the screen shows what the therapist wrote.
"""

from __future__ import annotations

import math
import re
import tomllib
from typing import Any

from .caps import FIRST_PHASE_SPEED_KMH, Caps
from .numbers import echo
from .record import Record, field, replace
from .units import KMH_PER_MPH, UNITS, from_kmh, to_kmh, unit_label

DIRECTIONS = ("backward", "forward")
RAILS = ("required", "optional")

# --------------------------------------------------------------------------------------------
# Rule values. Each names its source; docs/programs.md lists every rule, error or warning, and why.
# "Practice" limits come from docs/practice.md and bind every program not marked ``advanced = true``;
# "hard" limits bind every program, advanced or not.

#: Longest single phase, and the same for a whole program (hard). Two hours is far beyond any
#: protocol in docs/practice.md (10-20 minutes typical); a longer value is almost always a typo (seconds
#: for minutes).
MAX_PHASE_SECONDS = 2 * 60 * 60
MAX_PROGRAM_SECONDS = 2 * 60 * 60
MAX_REPEAT = 50

#: Shortest phase (hard). Every phase change is a belt command and a spoken cue; a treadmill takes a
#: few seconds to reach a new speed and a cue takes a few seconds to say and read. Practice counts phases in minutes ("a few minutes at each"); the
#: built-in programs' shortest phase is 30 s. Ten seconds leaves room for short intervals and
#: refuses the "0.001 s then full speed" trick and a belt told to change speed many times a second.
MIN_PHASE_SECONDS = 10
#: Shortest first phase (hard). docs/practice.md safety set-up 3-5: start at the slowest speed, incline
#: zero, then step on: reach one leg back, land on the toes, continue until walking fully in reverse.
#: That takes most of a minute; so the first phase, the one the start rule (docs/safety.md, rule 4)
#: governs, lasts at least one minute. It also makes a program's length meaningful: none is shorter.
MIN_FIRST_PHASE_SECONDS = 60
#: Most phases after repeats are unrolled (hard), checked before unrolling them. Two hours of
#: 36-second phases; the longest built-in program has 13. More is a generated or broken file.
MAX_PHASES = 200
#: Largest program file (hard). The biggest built-in file is under 4 kB; 64 kB holds a program of
#: MAX_PHASES phases with long cues. Bounds the time and memory one file can cost the library.
MAX_FILE_BYTES = 64 * 1024
#: Any number in a program above this is refused before it is converted (a 401-digit integer would
#: overflow a float). Far above every cap and duration, so it only catches absurd values.
MAX_NUMBER = 1_000_000
DURATION_ALLOWED = (f"a phase lasts at least {MIN_PHASE_SECONDS} seconds and at most 2 hours "
                    f"({MAX_PHASE_SECONDS} seconds); the first phase at least {MIN_FIRST_PHASE_SECONDS} seconds")

#: Slowest phase speed, in the program's own units (hard): a treadmill's slowest setting is 0.5 mph
#: or about 0.8 km/h; a speed of 1e-9 is not a phase, it is a typo.
MIN_SPEED = 0.1

#: docs/safety.md, rule 4 and docs/practice.md "Dose and progression" (start 0.5-1.0 mph): the first phase
#: is at most 1.0 mph (practice).
START_SPEED_KMH = FIRST_PHASE_SPEED_KMH
#: An advanced program may start faster, but never above 2.0 mph (hard): docs/practice.md's
#: "comfortable" backward target. Nobody steps on to a belt faster than that.
ADVANCED_START_SPEED_KMH = 2.0 * KMH_PER_MPH
#: Largest speed increase from one phase to the next in the same direction (practice). docs/practice.md:
#: "+0.1-0.2 mph at a time ... some guides use +0.5 mph steps"; 0.5 mph is the largest step in
#: practice (0.80 km/h in a km/h file).
MAX_SPEED_STEP_KMH = 0.5 * KMH_PER_MPH
#: ... and for an advanced program (hard): a backward jogging interval goes from a 2.0 mph walk to a
#: jog below 4.0 mph (docs/practice.md "backward jogging intervals, for the experienced").
ADVANCED_MAX_SPEED_STEP_KMH = 2.0 * KMH_PER_MPH
#: docs/practice.md "Program patterns": "slow down before the person turns around". At a change of
#: direction the station stops the belt and starts it again from standstill, so the phase before the
#: turn, and a backward phase after it (a new start, rule 4), are at most 1.0 mph (practice) ...
TURN_SPEED_KMH = FIRST_PHASE_SPEED_KMH
#: ... and at most 2.0 mph in an advanced program (hard), as for the first phase.
ADVANCED_TURN_SPEED_KMH = ADVANCED_START_SPEED_KMH
#: docs/practice.md "Dose and progression": incline "1-2 %, then slowly up"; a rise of more than 2 % from
#: one phase to the next is not practice (the incline ladder climbs 1 % a minute).
MAX_INCLINE_STEP_PCT = 2.0
#: docs/practice.md: "3.0-3.5 mph holding the rails" is the top of normal backward walking; above it is
#: backward jogging, "for the experienced": an error unless the program is advanced, then a warning.
LINT_BACKWARD_SPEED_KMH = 3.5 * KMH_PER_MPH

#: Float comparisons of speeds converted between units (0.5 mph steps in km/h and back).
_EPS = 1e-6

ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

TOP_FIELDS = {
    "id": "unique id, lowercase letters, digits and '-'",
    "name": "the name people see",
    "units": "mph or kmh",
    "description": "who the program is for and what it does",
    "audience": "a short 'who it is for' line for the program card",
    "advanced": "true for experienced users: lifts the practice limits, not the hard ones",
    "caps": "per-program caps that tighten the station's",
    "phases": "the list of [[phases]]",
}
REQUIRED_TOP = ("id", "name", "units", "phases")
PHASE_FIELDS = ("name", "direction", "seconds", "minutes", "speed", "incline", "rails", "cue")
REPEAT_FIELDS = ("name", "repeat", "steps")
CAPS_FIELDS = ("backward_speed", "forward_speed", "backward_incline", "forward_incline")


class Problem(Record):
    """One thing wrong (or unwise) in a program file."""

    source: str
    line: int | None
    field: str
    message: str
    severity: str = "error"  # "error" stops the program being used; "warning" is advice

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        label = "error" if self.severity == "error" else "warning"
        text = f"{where}: {label}: {self.field}: {self.message}"
        # One problem, one line: a key or value from the file may hold a newline (or another
        # line break); show it escaped so it can neither split the message nor fake a line.
        return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class Phase(Record):
    """One flat step of a program, after repeats are unrolled. Speeds in km/h."""

    name: str
    direction: str
    seconds: float
    speed_kmh: float
    incline_pct: float
    rails: str
    cue: str = ""
    #: e.g. "2 of 4" when the phase comes from a ``repeat`` block, else "".
    round_label: str = ""
    #: Where the phase stands in its file, for problems found after unrolling repeats: its line,
    #: and its path in the parsed file (``("phases", 2, "steps", 0)``).
    line: int | None = field(default=None, compare=False)
    where: tuple = field(default=(), compare=False)

    @property
    def rails_required(self) -> bool:
        return self.rails == "required"


class Program(Record):
    id: str
    name: str
    units: str
    phases: tuple[Phase, ...]
    description: str = ""
    audience: str = ""
    advanced: bool = False
    caps: Caps | None = None
    source: str = ""
    #: The parsed file as written, kept with every session so history stays true (docs/database.md).
    snapshot: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def total_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    def display_speed(self, speed_kmh: float) -> float:
        return from_kmh(speed_kmh, self.units)


# --------------------------------------------------------------------------------------------
# Loading


def parse_program_text(text: str, source: str, caps: Caps | None = None, *,
                       check_rules: bool = True) -> tuple[Program | None, list[Problem]]:
    """Parse TOML *text* from *source* and validate it. Returns the program (None on any error)
    and every problem found, errors and warnings. *check_rules*: see :func:`load_program`."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return None, [Problem(source, None, "file", f"is {size:,} bytes; a program file may be at most {MAX_FILE_BYTES:,} bytes")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_toml_problem(source, exc)]
    except RecursionError:
        # tomllib recurses once per nested array or inline table: hundreds deep exhaust the stack.
        return None, [Problem(source, None, "TOML", "arrays or tables are nested too deeply; a program file needs no nesting beyond [[phases.steps]]")]
    return load_program(data, source, caps=caps, lines=LineIndex(text), check_rules=check_rules)


def _toml_problem(source: str, exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    line = None
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        line = int(match.group(1))
        message = message[: match.start()].strip()
    elif "end of document" in message:
        line = None
    return Problem(source, line, "TOML", f"{message}; fix the TOML syntax (quotes, brackets, '=')")


class LineIndex:
    """Where each key of a program file stands, so problems can name a line.

    tomllib gives no positions, so this reads the text once: it tracks ``[[phases]]`` and
    ``[[phases.steps]]`` headers and records the line of each ``key =``. Good enough for the flat
    files therapists write; a key it cannot place is reported without a line.
    """

    def __init__(self, text: str):
        self._lines: dict[tuple, int] = {}
        phase = -1
        step = -1
        table: tuple = ()
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith(("'", '"')) else raw.strip()
            if not line:
                continue
            if line.startswith("[[") and line.endswith("]]"):
                name = line[2:-2].strip()
                if name == "phases":
                    phase += 1
                    step = -1
                    table = ("phases", phase)
                elif name == "phases.steps":
                    step += 1
                    table = ("phases", phase, "steps", step)
                else:
                    table = (name,)
                self._lines.setdefault(table, number)
                continue
            if line.startswith("[") and line.endswith("]"):
                table = (line[1:-1].strip(),)
                self._lines.setdefault(table, number)
                continue
            key_match = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", line)
            if key_match:
                key = key_match.group(1).strip("\"'")
                self._lines.setdefault(table + (key,), number)

    def line(self, *path) -> int | None:
        """Line of *path* (e.g. ``("phases", 0, "speed")``), or of its nearest enclosing table."""
        path = tuple(path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None


class _Checker:
    def __init__(self, source: str, lines: LineIndex | None):
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []
        self.rules = True  # the length, start, step and turn rules (see load_program)

    def add(self, path: tuple, field_name: str, message: str, severity: str = "error") -> None:
        line = self.lines.line(*path) if self.lines else None
        self.problems.append(Problem(self.source, line, _short(field_name), message, severity))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def _short(field_name: str, limit: int = 60) -> str:
    """A field name from the file (an unknown key may be any length) cut so the line stays short."""
    return field_name if len(field_name) <= limit else field_name[:limit] + "..."


def load_program(
    data: Any, source: str = "<program>", caps: Caps | None = None, lines: LineIndex | None = None, *,
    check_rules: bool = True,
) -> tuple[Program | None, list[Problem]]:
    """Build a :class:`Program` from a parsed dict, checking every rule.

    *caps* are the station's caps (from the config); a speed or incline beyond them is an error,
    because the station would never send it. Returns ``(None, problems)`` when any problem is an
    error.

    *check_rules* False skips the length, start, step and turn rules (docs/programs.md), keeping
    the shape, type, cap and size checks. No program a station runs is loaded so: it exists for
    tests of the safety core, which must stay safe with any :class:`Program` (a plain record
    anyone can build), e.g. a first phase above 1.0 mph that the runtime clamps.
    """
    caps = caps or Caps()
    check = _Checker(source, lines)
    check.rules = check_rules
    if not isinstance(data, dict):
        check.add((), "file", "a program file must be a TOML document with id, name, units and [[phases]]")
        return None, check.problems

    for key in data:
        if key not in TOP_FIELDS:
            check.add((key,), key, f"unknown field; allowed here: {', '.join(TOP_FIELDS)}")
    for key in REQUIRED_TOP:
        if key not in data:
            check.add((), key, f"missing; every program needs {', '.join(REQUIRED_TOP)}")

    program_id = _string(check, data, "id", ())
    if program_id is not None and not ID_PATTERN.match(program_id):
        check.add(("id",), "id", f"{_shown(program_id)} is not allowed; use lowercase letters, digits and '-', e.g. \"knee-rehab\"")
    name = _string(check, data, "name", ())
    description = _string(check, data, "description", (), required=False) or ""
    audience = _string(check, data, "audience", (), required=False) or ""
    units = _string(check, data, "units", ())
    if units is not None and units not in UNITS:
        check.add(("units",), "units", f"{_shown(units)} is not a unit; use \"mph\" or \"kmh\"")
        units = None
    advanced = data.get("advanced", False)
    if not isinstance(advanced, bool):
        check.add(("advanced",), "advanced", "must be true or false")
        advanced = False

    program_caps = _load_caps(check, data.get("caps"), units or "kmh") if "caps" in data else None
    effective_caps = caps.tightened(program_caps)

    phases: list[Phase] = []
    raw_phases = data.get("phases")
    if "phases" in data:
        if not isinstance(raw_phases, list) or not raw_phases:
            check.add(("phases",), "phases", "needs at least one [[phases]] table")
        elif (count := _unrolled_count(raw_phases)) > MAX_PHASES:
            # Counted from the file as written, before anything is unrolled: a repeat of a huge
            # block costs nothing here.
            check.add(("phases",), "phases", f"the program has {count:,} phases once repeats are unrolled; the most allowed is {MAX_PHASES}")
        else:
            for index, raw in enumerate(raw_phases):
                phases.extend(_load_entry(check, raw, index, units or "kmh", effective_caps))

    total = sum(p.seconds for p in phases)
    if total > MAX_PROGRAM_SECONDS:
        check.add(("phases",), "phases", f"the program lasts {total / 60:.0f} minutes; the most allowed is {MAX_PROGRAM_SECONDS // 60}")

    if check.rules and not check.has_errors and phases:
        _check_practice(check, data, phases, units or "kmh", advanced)

    if check.has_errors:
        return None, check.problems
    program = Program(
        id=program_id or "",
        name=name or "",
        units=units or "kmh",
        phases=tuple(phases),
        description=description,
        audience=audience,
        advanced=advanced,
        caps=program_caps,
        source=source,
        snapshot=data,
    )
    return program, check.problems


def _unrolled_count(raw_phases: list) -> int:
    """How many phases *raw_phases* unrolls to; a repeat count that is not a valid whole number
    counts once (it is reported as an error anyway)."""
    count = 0
    for raw in raw_phases:
        if isinstance(raw, dict) and ("repeat" in raw or "steps" in raw):
            repeat = raw.get("repeat")
            rounds = repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and 1 <= repeat <= MAX_REPEAT else 1
            steps = raw.get("steps")
            count += rounds * (len(steps) if isinstance(steps, list) else 0)
        else:
            count += 1
    return count


def _string(check: _Checker, data: dict, key: str, path: tuple, required: bool = True) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str) or (required and not value.strip()):
        check.add(path + (key,), _dotted(path, key), "must be a non-empty text in quotes")
        return None
    return value.strip()


def _dotted(path: tuple, key: str) -> str:
    return f"{_label(path)}.{key}" if path else key


def _number(check: _Checker, data: dict, key: str, path: tuple, allowed: str = "") -> float | None:
    """A finite number no larger than :data:`MAX_NUMBER`, as a float; else an error and None."""
    value = data.get(key)
    field_name = _dotted(path, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        check.add(path + (key,), field_name, f"must be a number, not {_shown(value)}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        check.add(path + (key,), field_name, f"must be a finite number, not {_shown(value)}")
        return None
    if abs(value) > MAX_NUMBER:
        # Checked before float(): a 401-digit TOML integer would overflow it.
        check.add(path + (key,), field_name, f"{_shown(value)} is far too large; {allowed or f'at most {MAX_NUMBER:,}'}")
        return None
    return float(value)


def _shown(value: Any) -> str:
    """A value from the file, for a message: short, one line, and safe for any value (a huge
    integer, a deeply nested array)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 10**12:
            return str(value)
        # str() of a huge int is slow (and refused past 4300 digits): estimate the digits instead.
        return f"a {int((abs(value).bit_length() - 1) * 0.30103) + 1}-digit number"
    if isinstance(value, float):
        return "nan" if value != value else (str(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return echo(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _load_caps(check: _Checker, raw: Any, units: str) -> Caps | None:
    if not isinstance(raw, dict):
        check.add(("caps",), "caps", "must be a [caps] table with " + ", ".join(CAPS_FIELDS))
        return None
    base = Caps()
    values = {}
    for key, value in raw.items():
        if key not in CAPS_FIELDS:
            check.add(("caps", key), f"caps.{key}", f"unknown field; allowed here: {', '.join(CAPS_FIELDS)}")
            continue
        number = _number(check, raw, key, ("caps",), "a cap only tightens the station's; give a value below it")
        if number is None:
            continue
        if number <= 0:
            check.add(("caps", key), f"caps.{key}", "must be above 0")
            continue
        values[key] = number
    return Caps(
        backward_speed_kmh=to_kmh(values["backward_speed"], units) if "backward_speed" in values else base.backward_speed_kmh,
        forward_speed_kmh=to_kmh(values["forward_speed"], units) if "forward_speed" in values else base.forward_speed_kmh,
        backward_incline_pct=values.get("backward_incline", base.backward_incline_pct),
        forward_incline_pct=values.get("forward_incline", base.forward_incline_pct),
    )


def _load_entry(check: _Checker, raw: Any, index: int, units: str, caps: Caps) -> list[Phase]:
    path = ("phases", index)
    label = f"phases[{index + 1}]"
    if not isinstance(raw, dict):
        check.add(path, label, "must be a [[phases]] table")
        return []
    if "repeat" in raw or "steps" in raw:
        for key in raw:
            if key not in REPEAT_FIELDS:
                check.add(path + (key,), f"{label}.{key}", f"not allowed in a repeat block; allowed: {', '.join(REPEAT_FIELDS)} (put phase fields in [[phases.steps]])")
        repeat = raw.get("repeat")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
            check.add(path + ("repeat",), f"{label}.repeat", f"must be a whole number from 1 to {MAX_REPEAT}")
            repeat = None
        steps = raw.get("steps")
        if not isinstance(steps, list) or not steps:
            check.add(path + ("steps",), f"{label}.steps", "a repeat block needs at least one [[phases.steps]] table")
            return []
        block_name = raw.get("name", "") if isinstance(raw.get("name", ""), str) else ""
        loaded = []
        for step_index, step in enumerate(steps):
            phase = _load_phase(check, step, path + ("steps", step_index), f"{label}.steps[{step_index + 1}]", units, caps)
            if phase is not None:
                loaded.append(phase)
        if repeat is None or len(loaded) != len(steps):
            return []
        out = []
        for round_number in range(1, repeat + 1):
            for step, phase in zip(steps, loaded):
                # A step without its own name takes the block's (the phase already holds a
                # fallback name from its direction, so test the step as written).
                named = isinstance(step.get("name"), str) and step["name"].strip()
                name = phase.name if named or not block_name.strip() else block_name.strip()
                out.append(replace(phase, name=name, round_label=f"{round_number} of {repeat}"))
        return out
    phase = _load_phase(check, raw, path, label, units, caps)
    return [phase] if phase else []


def _load_phase(check: _Checker, raw: Any, path: tuple, label: str, units: str, caps: Caps) -> Phase | None:
    if not isinstance(raw, dict):
        check.add(path, label, "must be a table of phase fields")
        return None
    before = len(check.problems)
    for key in raw:
        if key not in PHASE_FIELDS:
            hint = " (repeat blocks cannot be nested)" if key in ("repeat", "steps") else ""
            check.add(path + (key,), f"{label}.{key}", f"unknown field{hint}; allowed: {', '.join(PHASE_FIELDS)}")
    for key in ("direction", "speed", "rails"):
        if key not in raw:
            check.add(path, f"{label}.{key}", "missing; every phase needs direction, seconds or minutes, speed and rails")

    direction = raw.get("direction")
    if "direction" in raw and direction not in DIRECTIONS:
        check.add(path + ("direction",), f"{label}.direction", f"{_shown(direction)} is not allowed; use \"backward\" or \"forward\"")
    rails = raw.get("rails")
    if "rails" in raw and rails not in RAILS:
        check.add(path + ("rails",), f"{label}.rails", f"{_shown(rails)} is not allowed; use \"required\" or \"optional\"")

    seconds = None
    if "seconds" in raw and "minutes" in raw:
        check.add(path + ("minutes",), f"{label}.minutes", "give seconds or minutes, not both")
    elif "seconds" in raw:
        seconds = _number(check, raw, "seconds", path, DURATION_ALLOWED)
    elif "minutes" in raw:
        minutes = _number(check, raw, "minutes", path, DURATION_ALLOWED)
        seconds = None if minutes is None else minutes * 60
    else:
        check.add(path, f"{label}.seconds", "missing; give the phase length as seconds = N or minutes = N")
    shortest = MIN_PHASE_SECONDS if check.rules else 0
    if seconds is not None and not (shortest <= seconds <= MAX_PHASE_SECONDS and seconds > 0):
        key = "minutes" if "minutes" in raw else "seconds"
        check.add(path + (key,), f"{label}.{key}", f"{_shown(raw[key])} {key} is {'too long' if seconds > MAX_PHASE_SECONDS else 'too short'}; {DURATION_ALLOWED}")
        seconds = None

    unit_name = unit_label(units)
    speed = _number(check, raw, "speed", path, f"use a speed from {MIN_SPEED:g} {unit_name} up to the station's cap") if "speed" in raw else None
    if speed is not None and direction in DIRECTIONS:
        cap = from_kmh(caps.speed_for(direction), units)
        if not MIN_SPEED - _EPS <= speed <= cap + 1e-9:
            where = "below the slowest phase speed" if speed < MIN_SPEED else f"outside the {direction} cap"
            check.add(path + ("speed",), f"{label}.speed", f"{speed:g} {unit_name} is {where}; use a speed of at least {MIN_SPEED:g} and at most {cap:.1f} {unit_name}")
            speed = None
    incline = 0.0
    if "incline" in raw:
        incline = _number(check, raw, "incline", path, "use 0 up to the station's incline cap (percent)")
        if incline is not None and direction in DIRECTIONS:
            cap = caps.incline_for(direction)
            if not 0 <= incline <= cap + 1e-9:
                check.add(path + ("incline",), f"{label}.incline", f"{incline:g} % is outside the {direction} cap; use 0 to {cap:g} %")
                incline = None

    name = raw.get("name", "")
    if not isinstance(name, str):
        check.add(path + ("name",), f"{label}.name", "must be a text in quotes")
        name = ""
    cue = raw.get("cue", "")
    if not isinstance(cue, str):
        check.add(path + ("cue",), f"{label}.cue", "must be a text in quotes")
        cue = ""

    if len(check.problems) != before and any(p.severity == "error" for p in check.problems[before:]):
        return None
    if seconds is None or speed is None or incline is None:
        return None
    return Phase(
        name=name.strip() or direction.capitalize(),
        direction=direction,
        seconds=seconds,
        speed_kmh=to_kmh(speed, units),
        incline_pct=incline,
        rails=rails,
        cue=cue.strip(),
        line=check.lines.line(*path) if check.lines else None,
        where=path,
    )


# --------------------------------------------------------------------------------------------
# Start, step and turn rules (docs/practice.md; docs/safety.md, rule 4). docs/programs.md explains each.
# A "practice" limit is an error unless the program says ``advanced = true``; a "hard" limit is an
# error for every program. A few practice notes stay warnings for advanced programs (advice to
# whoever edits the file). Problems of a repeated step are reported once, at its line.


def _check_practice(check: _Checker, data: dict, phases: list[Phase], units: str, advanced: bool) -> None:
    unit = unit_label(units)

    def shown(kmh: float) -> str:
        """A speed from the file: as written (0.5 mph, 1.25 mph)."""
        return f"{round(from_kmh(kmh, units), 2):g} {unit}"

    def limit(kmh: float) -> str:
        """A rule's limit, one decimal as a console shows it (1.0 mph, 1.6 km/h)."""
        return f"{from_kmh(kmh, units) + _EPS:.1f} {unit}"

    reported: set[tuple] = set()

    def add(key: tuple, phase: Phase, field_name: str, message: str, severity: str = "error") -> None:
        if key in reported:
            return
        reported.add(key)
        check.add(phase.where + (field_name,), f"{_label(phase.where)}.{field_name}", message, severity)

    def over(value: float, bound: float) -> bool:
        return value > bound + _EPS

    first = phases[0]
    length_key = "minutes" if "minutes" in _raw_at(data, first.where) else "seconds"
    if first.seconds < MIN_FIRST_PHASE_SECONDS:
        add(("first-length",), first, length_key, f"the first phase lasts {first.seconds:g} seconds; it must last at least "
            f"{MIN_FIRST_PHASE_SECONDS} seconds to step on at a slow speed (docs/practice.md safety set-up)")
    if first.incline_pct > 0:
        add(("first-flat",), first, "incline", "the first phase must be flat (incline 0): docs/practice.md starts every session at incline zero")
    if over(first.speed_kmh, ADVANCED_START_SPEED_KMH if advanced else START_SPEED_KMH):
        if advanced:
            add(("first-speed",), first, "speed", f"the first phase is {shown(first.speed_kmh)}; even an advanced program starts at "
                f"{limit(ADVANCED_START_SPEED_KMH)} at most")
        else:
            add(("first-speed",), first, "speed", f"the first phase is {shown(first.speed_kmh)}; a program starts at "
                f"{limit(START_SPEED_KMH)} at most (docs/architecture.md safety rule 4) unless it says advanced = true")
    elif advanced and over(first.speed_kmh, START_SPEED_KMH):
        add(("first-speed",), first, "speed", f"the first phase is above {limit(START_SPEED_KMH)}: allowed because the program "
            "is advanced; only for people who already walk backward at that speed", "warning")

    step_limit = ADVANCED_MAX_SPEED_STEP_KMH if advanced else MAX_SPEED_STEP_KMH
    turn_limit = ADVANCED_TURN_SPEED_KMH if advanced else TURN_SPEED_KMH
    tail = "" if advanced else " (an advanced program may go further; see docs/programs.md)"
    for before, after in zip(phases, phases[1:]):
        pair = (before.where, after.where)
        if before.direction != after.direction:
            if over(before.speed_kmh, turn_limit):
                add(("turn-before",) + pair, before, "speed", f"slow down before the turn to {after.direction}: this phase is "
                    f"{shown(before.speed_kmh)}, at most {limit(turn_limit)} before a change of direction (docs/practice.md){tail}")
            if after.direction == "backward" and over(after.speed_kmh, turn_limit):
                add(("turn-after",) + pair, after, "speed", f"after a turn the belt starts again from standstill: a backward phase "
                    f"after a turn is at most {limit(turn_limit)}, like the first phase; this one is {shown(after.speed_kmh)}{tail}")
        elif over(after.speed_kmh - before.speed_kmh, step_limit):
            add(("step",) + pair, after, "speed", f"{shown(before.speed_kmh)} to {shown(after.speed_kmh)} is a step of "
                f"{shown(after.speed_kmh - before.speed_kmh)}; raise the speed by {limit(step_limit)} at most from one phase to "
                f"the next (docs/practice.md: 0.1-0.2 mph at a time, 0.5 mph at most){tail}")
        if before.direction != after.direction:
            continue  # the belt stops for a turn; the turn rules above apply, not the step rules
        if after.speed_kmh > before.speed_kmh + _EPS and after.incline_pct > before.incline_pct + _EPS:
            add(("both",) + pair, after, "incline", "raises speed and incline at once; docs/practice.md: never raise both "
                "together, change one per phase")
        elif not advanced and after.incline_pct > before.incline_pct + MAX_INCLINE_STEP_PCT + _EPS:
            add(("incline-step",) + pair, after, "incline", f"{before.incline_pct:g} % to {after.incline_pct:g} % is a rise of "
                f"{after.incline_pct - before.incline_pct:g} %; raise the incline by {MAX_INCLINE_STEP_PCT:g} % at most from one "
                f"phase to the next (docs/practice.md: 1-2 %, then slowly up){tail}")
    for phase in phases:
        if phase.direction == "backward" and over(phase.speed_kmh, LINT_BACKWARD_SPEED_KMH):
            if advanced:
                add(("jog", phase.where), phase, "speed", f"backward at {shown(phase.speed_kmh)} is above 3.5 mph, beyond normal "
                    "backward walking; keep it for experienced users", "warning")
            else:
                add(("jog", phase.where), phase, "speed", f"backward at {shown(phase.speed_kmh)} is above 3.5 mph, beyond normal "
                    "backward walking (docs/practice.md); only an advanced program (advanced = true) may go faster")


def _label(where: tuple) -> str:
    """``("phases", 2, "steps", 0)`` -> ``"phases[3].steps[1]"``, as the other messages name it."""
    parts = []
    for item in where:
        parts.append(f"[{item + 1}]" if isinstance(item, int) else ("." + item if parts else item))
    return "".join(parts)


def _raw_at(data: dict, where: tuple) -> dict:
    """The table of the file at *where* (a phase's path), or an empty dict."""
    node: Any = data
    for item in where:
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, dict) else {}
