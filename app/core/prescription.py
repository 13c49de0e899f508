"""A member's prescription (speed, minutes, incline, rails) as a runnable :class:`Program`.

The program is built as a program *file* would be written (a dict in the TOML shape of docs/programs.md) and goes through :func:`app.core.program.load_program`, so it meets exactly the validation
and the caps every other program meets, and its snapshot is stored with each session.

Shape, from docs/practice.md:

1. Warm-up: flat, at the prescribed speed but never above 1.0 mph ("start the belt at the slowest
   speed, incline zero"; docs/safety.md, rule 4 starts no program above 1.0 mph), rails held ("hold
   the side rails"), one minute.
2. Up to speed: a flat minute per step of at most 0.5 mph (0.8 km/h) towards the main speed
   (docs/practice.md: "+0.1-0.2 mph at a time ... some guides use +0.5 mph steps"; the program speed-step
   rule of docs/programs.md), ending at the main speed itself when the main phase is inclined:
   "never raise speed and incline at the same time".
3. Up the incline: a minute per 2 % when the main incline is higher ("1-2 %, then slowly up").
4. The main phase: the prescribed speed, incline, minutes and rails.
"""

from __future__ import annotations

from typing import Any

from .caps import FIRST_PHASE_SPEED_KMH, Caps
from .program import MAX_INCLINE_STEP_PCT, MAX_SPEED_STEP_KMH, Problem, Program, load_program
from .progression import Dose
from .units import from_kmh

#: One minute to step on and find the rhythm at the slowest speed (docs/practice.md safety set-up 3-5).
WARMUP_SECONDS = 60
#: A flat minute at speed before the incline comes in (docs/practice.md: never raise both together).
UP_TO_SPEED_SECONDS = 60

#: docs/practice.md "Technique cues".
CUE_WARMUP = "Reach back, toes first, roll to the heel"
CUE_SPEED = "Large, deliberate steps beat a fast pace"
CUE_MAIN = "Stand tall, look ahead; the knee straightens as the heel comes down"
CUE_INCLINE = "Push the heel all the way down; slow down if unsteady"


def program_id_for(member_id: int) -> str:
    return f"rx-member-{member_id}"


def prescription_dict(dose: Dose, *, member_id: int, member_name: str, units: str) -> dict[str, Any]:
    """The prescription as a program dict (the TOML shape), speeds in *units*."""

    def shown(speed_kmh: float) -> float:
        return round(from_kmh(speed_kmh, units), 2)

    warmup_kmh = min(dose.speed_kmh, FIRST_PHASE_SPEED_KMH)
    phases: list[dict[str, Any]] = [{
        "name": "Warm-up", "direction": "backward", "seconds": WARMUP_SECONDS,
        "speed": shown(warmup_kmh), "incline": 0, "rails": "required", "cue": CUE_WARMUP,
    }]
    # Steps in the member's units, one decimal as a console shows them: 0.5 mph or 0.8 km/h.
    step = int(from_kmh(MAX_SPEED_STEP_KMH, units) * 10 + 1e-6) / 10
    speed, main_speed = shown(warmup_kmh), shown(dose.speed_kmh)
    # Up to speed, flat; the last flat minute is at the main speed when the main phase climbs.
    while main_speed - speed > (1e-6 if dose.incline_pct > 0 else step + 1e-6):
        speed = round(min(speed + step, main_speed), 2)
        phases.append({
            "name": "Up to speed", "direction": "backward", "seconds": UP_TO_SPEED_SECONDS,
            "speed": speed, "incline": 0, "rails": "required", "cue": CUE_SPEED,
        })
    incline = 0.0
    while dose.incline_pct - incline > MAX_INCLINE_STEP_PCT + 1e-6:
        incline += MAX_INCLINE_STEP_PCT
        phases.append({
            "name": "Up the incline", "direction": "backward", "seconds": UP_TO_SPEED_SECONDS,
            "speed": main_speed, "incline": incline, "rails": "required", "cue": CUE_INCLINE,
        })
    phases.append({
        "name": "Main", "direction": "backward", "seconds": round(dose.minutes * 60),
        "speed": shown(dose.speed_kmh), "incline": dose.incline_pct, "rails": dose.rails,
        "cue": CUE_INCLINE if dose.incline_pct > 0 else CUE_MAIN,
    })
    return {
        "id": program_id_for(member_id),
        "name": f"Prescription: {member_name}",
        "units": units,
        "description": f"{member_name}'s prescription: warm-up, then {dose.minutes:g} minutes backward.",
        "phases": phases,
    }


def prescription_program(dose: Dose, *, member_id: int, member_name: str, units: str,
                         caps: Caps | None = None) -> tuple[Program | None, list[Problem]]:
    """Build and validate the program; ``(None, problems)`` when the dose breaks a rule or a cap."""
    data = prescription_dict(dose, member_id=member_id, member_name=member_name, units=units)
    return load_program(data, f"prescription of member {member_id}", caps=caps)
