"""Interval programs: the model, the loader from a parsed TOML dict, and the validation rules.

A program file is written by a physical therapist (DESIGN.md §3.1). Every problem with it is
reported at once, one :class:`Problem` per line of output, naming the file, the line where it can,
the field, what is wrong and what is allowed. Nothing here raises on bad input.

The core keeps speeds in km/h; a program written in mph is converted on load and keeps its
``units`` so the screen shows what the therapist wrote.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from .caps import FIRST_PHASE_SPEED_KMH, Caps
from .units import KMH_PER_MPH, UNITS, from_kmh, to_kmh

DIRECTIONS = ("backward", "forward")
RAILS = ("required", "optional")

#: Longest single phase, and the same for a whole program. Two hours is far beyond any protocol in
#: PROTOCOLS.md (10-20 minutes typical); a longer value is almost always a typo (seconds for minutes).
MAX_PHASE_SECONDS = 2 * 60 * 60
MAX_PROGRAM_SECONDS = 2 * 60 * 60
MAX_REPEAT = 50

#: PROTOCOLS.md: "3.0-3.5 mph holding the rails" is the top of normal backward walking.
LINT_BACKWARD_SPEED_KMH = 3.5 * KMH_PER_MPH

ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

TOP_FIELDS = {
    "id": "unique id, lowercase letters, digits and '-'",
    "name": "the name people see",
    "units": "mph or kmh",
    "description": "who the program is for and what it does",
    "audience": "a short 'who it is for' line for the program card",
    "advanced": "true allows a first phase above 1.0 mph",
    "caps": "per-program caps that tighten the station's",
    "phases": "the list of [[phases]]",
}
REQUIRED_TOP = ("id", "name", "units", "phases")
PHASE_FIELDS = ("name", "direction", "seconds", "minutes", "speed", "incline", "rails", "cue")
REPEAT_FIELDS = ("name", "repeat", "steps")
CAPS_FIELDS = ("backward_speed", "forward_speed", "backward_incline", "forward_incline")


@dataclass(frozen=True)
class Problem:
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


@dataclass(frozen=True)
class Phase:
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
    #: Where the phase stands in its file, for problems found after unrolling repeats.
    line: int | None = field(default=None, compare=False)

    @property
    def rails_required(self) -> bool:
        return self.rails == "required"


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    units: str
    phases: tuple[Phase, ...]
    description: str = ""
    audience: str = ""
    advanced: bool = False
    caps: Caps | None = None
    source: str = ""
    #: The parsed file as written, kept with every session so history stays true (DESIGN.md §5).
    snapshot: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def total_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    def display_speed(self, speed_kmh: float) -> float:
        return from_kmh(speed_kmh, self.units)


# --------------------------------------------------------------------------------------------
# Loading


def parse_program_text(text: str, source: str, caps: Caps | None = None) -> tuple[Program | None, list[Problem]]:
    """Parse TOML *text* from *source* and validate it. Returns the program (None on any error)
    and every problem found, errors and warnings."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_toml_problem(source, exc)]
    return load_program(data, source, caps=caps, lines=LineIndex(text))


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

    def add(self, path: tuple, field_name: str, message: str, severity: str = "error") -> None:
        line = self.lines.line(*path) if self.lines else None
        self.problems.append(Problem(self.source, line, field_name, message, severity))

    def add_at(self, line: int | None, field_name: str, message: str, severity: str = "warning") -> None:
        self.problems.append(Problem(self.source, line, field_name, message, severity))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def load_program(
    data: Any, source: str = "<program>", caps: Caps | None = None, lines: LineIndex | None = None
) -> tuple[Program | None, list[Problem]]:
    """Build a :class:`Program` from a parsed dict, checking every rule.

    *caps* are the station's caps (from the config); a speed or incline beyond them is an error,
    because the station would never send it. Returns ``(None, problems)`` when any problem is an
    error.
    """
    caps = caps or Caps()
    check = _Checker(source, lines)
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
        check.add(("id",), "id", f"{program_id!r} is not allowed; use lowercase letters, digits and '-', e.g. \"knee-rehab\"")
    name = _string(check, data, "name", ())
    description = _string(check, data, "description", (), required=False) or ""
    audience = _string(check, data, "audience", (), required=False) or ""
    units = _string(check, data, "units", ())
    if units is not None and units not in UNITS:
        check.add(("units",), "units", f"{units!r} is not a unit; use \"mph\" or \"kmh\"")
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
        else:
            for index, raw in enumerate(raw_phases):
                phases.extend(_load_entry(check, raw, index, units or "kmh", effective_caps))

    total = sum(p.seconds for p in phases)
    if total > MAX_PROGRAM_SECONDS:
        check.add(("phases",), "phases", f"the program lasts {total / 60:.0f} minutes; the most allowed is {MAX_PROGRAM_SECONDS // 60}")

    if not check.has_errors and phases:
        _lint(check, phases, units or "kmh", advanced)

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


def _string(check: _Checker, data: dict, key: str, path: tuple, required: bool = True) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str) or (required and not value.strip()):
        check.add(path + (key,), _dotted(path, key), "must be a non-empty text in quotes")
        return None
    return value.strip()


def _dotted(path: tuple, key: str) -> str:
    parts = []
    for item in path:
        parts.append(f"[{item + 1}]" if isinstance(item, int) else ("." + item if parts else item))
    return ("".join(parts) + "." + key) if parts else key


def _number(check: _Checker, data: dict, key: str, path: tuple) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        check.add(path + (key,), _dotted(path, key), f"must be a number, not {value!r}")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        check.add(path + (key,), _dotted(path, key), "must be a finite number")
        return None
    return float(value)


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
        number = _number(check, raw, key, ("caps",))
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
                out.append(_replace(phase, name=name, round_label=f"{round_number} of {repeat}"))
        return out
    phase = _load_phase(check, raw, path, label, units, caps)
    return [phase] if phase else []


def _replace(phase: Phase, **changes) -> Phase:
    from dataclasses import replace

    return replace(phase, **changes)


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
        check.add(path + ("direction",), f"{label}.direction", f"{direction!r} is not allowed; use \"backward\" or \"forward\"")
    rails = raw.get("rails")
    if "rails" in raw and rails not in RAILS:
        check.add(path + ("rails",), f"{label}.rails", f"{rails!r} is not allowed; use \"required\" or \"optional\"")

    seconds = None
    if "seconds" in raw and "minutes" in raw:
        check.add(path + ("minutes",), f"{label}.minutes", "give seconds or minutes, not both")
    elif "seconds" in raw:
        seconds = _number(check, raw, "seconds", path)
    elif "minutes" in raw:
        minutes = _number(check, raw, "minutes", path)
        seconds = None if minutes is None else minutes * 60
    else:
        check.add(path, f"{label}.seconds", "missing; give the phase length as seconds = N or minutes = N")
    if seconds is not None and not 0 < seconds <= MAX_PHASE_SECONDS:
        key = "minutes" if "minutes" in raw else "seconds"
        check.add(path + (key,), f"{label}.{key}", f"must be above 0 and at most 2 hours ({MAX_PHASE_SECONDS} seconds)")
        seconds = None

    speed = _number(check, raw, "speed", path) if "speed" in raw else None
    unit_name = "mph" if units == "mph" else "km/h"
    if speed is not None and direction in DIRECTIONS:
        cap = from_kmh(caps.speed_for(direction), units)
        if not 0 < speed <= cap + 1e-9:
            check.add(path + ("speed",), f"{label}.speed", f"{speed:.1f} {unit_name} is outside the {direction} cap; use a speed above 0 and at most {cap:.1f} {unit_name}")
            speed = None
    incline = 0.0
    if "incline" in raw:
        incline = _number(check, raw, "incline", path)
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
    )


# --------------------------------------------------------------------------------------------
# Lint: practice rules from PROTOCOLS.md. Warnings, not errors: a therapist may have a reason.


def _lint(check: _Checker, phases: list[Phase], units: str, advanced: bool) -> None:
    first = phases[0]
    unit_name = "mph" if units == "mph" else "km/h"
    first_path = ("phases", 0)
    if first.incline_pct > 0:
        check.add(first_path + ("incline",), "phases[1].incline", "the first phase should be flat (incline 0): PROTOCOLS.md starts every session at incline zero", "warning")
    if first.speed_kmh > FIRST_PHASE_SPEED_KMH + 1e-9:
        limit = from_kmh(FIRST_PHASE_SPEED_KMH, units)
        tail = "" if advanced else f"; the station will start the belt at {limit:.1f} {unit_name} unless the program says advanced = true"
        check.add(first_path + ("speed",), "phases[1].speed", f"the first phase should be at most 1.0 mph ({limit:.1f} {unit_name}){tail}", "warning")
    for number, (before, after) in enumerate(zip(phases, phases[1:]), start=2):
        if after.speed_kmh > before.speed_kmh + 1e-9 and after.incline_pct > before.incline_pct + 1e-9:
            check.add_at(after.line, f"phase {number} ({after.name})", "raises speed and incline at once; PROTOCOLS.md: never raise both together, change one per step", "warning")
    seen = set()
    for number, phase in enumerate(phases, start=1):
        if phase.direction == "backward" and phase.speed_kmh > LINT_BACKWARD_SPEED_KMH + 1e-9 and phase.name not in seen:
            seen.add(phase.name)
            shown = from_kmh(phase.speed_kmh, units)
            check.add_at(phase.line, f"phase {number} ({phase.name})", f"backward at {shown:.1f} {unit_name} is above 3.5 mph, beyond normal backward walking; keep it for experienced users", "warning")
