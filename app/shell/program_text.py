"""Programs in words and JSON, as ``backstep programs list | show`` prints them: the library table,
one program's phases (repeat blocks as written in the file), and the summary both share."""

from __future__ import annotations

import textwrap

from ..core.program import Phase, Program
from ..core.session import format_clock
from ..core.units import from_kmh, unit_label
from .library import Library, problem_order


def broken_notes(library: Library) -> list[str]:
    """One line per file the library left out, so a list that is one short says why."""
    notes = []
    for source in library.broken:
        problems = sorted(library.problems_for(source), key=problem_order)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        # A duplicate id is not a fault of the file itself, so `check` would pass it: no hint then.
        hint = "" if source in library.duplicates else f"; run `backstep programs check {source}`"
        notes.append(f"not loaded: {problems[0]}{more}{hint}")
    return notes


def library_table(programs: list[Program]) -> str:
    """Every program: id, name, minutes, units and who it is for."""
    rows = [("ID", "NAME", "MIN", "UNITS", "FOR")]
    for program in programs:
        rows.append((program.id, program.name + (" (advanced)" if program.advanced else ""),
                     minutes_text(program.total_seconds), unit_label(program.units), program.audience))
    return _table(rows, right=frozenset({2}))


def program_summary(program: Program) -> dict:
    return {
        "id": program.id,
        "name": program.name,
        "units": program.units,
        "minutes": round(program.total_seconds / 60, 2),
        "phases": len(program.phases),
        "audience": program.audience,
        "description": program.description,
        "advanced": program.advanced,
        "source": program.source,
    }


def program_json(program: Program) -> dict:
    """The summary plus the phases as written (repeat blocks kept), for ``show --json``."""
    data = program_summary(program)
    data["seconds"] = program.total_seconds
    data["entries"] = [_entry_json(entry, program) for entry in program_entries(program)]
    return data


def program_entries(program: Program) -> list[tuple[str, int, list[Phase]]]:
    """The program as written: ``(block name, rounds, phases of one round)`` per entry; a plain
    phase is a block of one round. Read from the snapshot of the file (which has the repeat blocks
    and their names) and checked against the unrolled phases; falls back to the round labels."""
    entries = _entries_from_snapshot(program)
    if entries is not None:
        return entries
    return _entries_from_labels(program)


def _entries_from_snapshot(program: Program) -> list[tuple[str, int, list[Phase]]] | None:
    raw = program.snapshot.get("phases") if isinstance(program.snapshot, dict) else None
    if not isinstance(raw, list):
        return None
    phases = program.phases
    entries = []
    index = 0
    for item in raw:
        if not isinstance(item, dict):
            return None
        if "repeat" in item:
            rounds, steps = item.get("repeat"), item.get("steps")
            if not isinstance(rounds, int) or not isinstance(steps, list):
                return None
            block = list(phases[index:index + len(steps)])
            entries.append((str(item.get("name", "")), rounds, block))
            index += rounds * len(steps)
        else:
            entries.append(("", 1, list(phases[index:index + 1])))
            index += 1
    if index != len(phases) or any(not block for _, _, block in entries):
        return None
    return entries


def _entries_from_labels(program: Program) -> list[tuple[str, int, list[Phase]]]:
    entries = []
    phases = list(program.phases)
    index = 0
    while index < len(phases):
        label = phases[index].round_label
        if not label.startswith("1 of "):
            entries.append(("", 1, [phases[index]]))
            index += 1
            continue
        rounds = int(label.split(" of ")[1])
        size = 0
        while index + size < len(phases) and phases[index + size].round_label == label:
            size += 1
        entries.append(("", rounds, phases[index:index + size]))
        index += rounds * size
    return entries


def _entry_json(entry: tuple[str, int, list[Phase]], program: Program) -> dict:
    name, rounds, block = entry
    if rounds == 1 and len(block) == 1 and not block[0].round_label:
        return _phase_json(block[0], program)
    return {"name": name, "repeat": rounds, "steps": [_phase_json(p, program) for p in block]}


def _phase_json(phase: Phase, program: Program) -> dict:
    return {
        "name": phase.name,
        "direction": phase.direction,
        "seconds": phase.seconds,
        "speed": round(from_kmh(phase.speed_kmh, program.units), 2),
        "incline": phase.incline_pct,
        "rails": phase.rails,
        "cue": phase.cue,
    }


def describe_program(program: Program) -> str:
    units = unit_label(program.units)
    lines = [f"{program.name} ({program.id})"]
    if program.audience:
        lines.append(f"For: {program.audience}")
    facts = [f"{minutes_text(program.total_seconds)} min", f"{len(program.phases)} phases", f"speeds in {units}"]
    if program.advanced:
        facts.append("advanced")
    lines.append(" · ".join(facts))
    if program.description:
        lines.append("")
        lines.extend(textwrap.wrap(program.description, width=100))
    lines.append("")
    rows = [("#", "PHASE", "DIRECTION", "TIME", "SPEED", "INCLINE", "RAILS", "CUE")]
    number = 0
    for name, rounds, block in program_entries(program):
        if rounds > 1 or block[0].round_label:
            round_seconds = sum(p.seconds for p in block)
            title = f"{name}: " if name else ""
            rows.append(f"{title}{rounds} rounds of {format_clock(round_seconds)} "
                        f"({format_clock(rounds * round_seconds)} in all):")
            indent = "  "
        else:
            indent = ""
        for phase in block:
            number += 1
            rows.append((str(number), indent + phase.name, phase.direction, format_clock(phase.seconds),
                         f"{_speed(from_kmh(phase.speed_kmh, program.units))} {units}",
                         f"{_number(phase.incline_pct)} %", phase.rails, phase.cue))
    lines.append(_table(rows, right=frozenset({0, 3, 4, 5})))
    return "\n".join(lines)


def minutes_text(seconds: float) -> str:
    """Minutes to one decimal place, without trailing zeros."""
    return _number(seconds / 60, 1)


def _speed(value: float) -> str:
    """One decimal, as a treadmill console shows speed, unless the file asked for a finer step."""
    return f"{value:.1f}" if abs(round(value, 1) - round(value, 2)) < 1e-9 else f"{value:.2f}"


def _number(value: float, places: int = 2) -> str:
    """``0.5``, ``2``, ``1.25``: no trailing zeros, as a therapist would write it."""
    return f"{round(value, places):g}"


def _table(rows: list, right: frozenset[int] = frozenset()) -> str:
    """Plain aligned columns. A row that is a plain string is a heading across the table (a repeat
    block's "3 rounds of ..."); the last column is never padded (it holds free text such as cues)."""
    cells_only = [row for row in rows if not isinstance(row, str)]
    widths = [max(len(row[i]) for row in cells_only) for i in range(len(cells_only[0]))]
    out = []
    for row in rows:
        if isinstance(row, str):
            out.append(" " * (widths[0] + 2) + row)
            continue
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                cells.append(cell)
            elif i in right:
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell.ljust(widths[i]))
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
