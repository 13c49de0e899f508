"""Progression: after each session, a suggestion for the next one (docs/practice.md, "Dose and progression").

Pure rules from docs/practice.md "Dose and progression", checked in this order; the first that applies
decides, and every decision carries its reasons (a catalogue key, its params and a default English
sentence) so the person and the therapist see *why*:

1. ``lower``: the dose is above a limit the therapist set  -> bring it down to the limit.
   The therapist's limits are never exceeded: the station suggests, the therapist decides.
2. ``start``: no session yet -> keep the prescribed starting dose.
3. ``step_back``: pain was worse in each of the last two sessions (pain after above pain before, or
   the session was stopped with the pain button) -> one step down, the last raised thing first.
4. ``hold``: last session pain went up by 2 or more, the pain button was used, the rails were let
   go too early, an emergency stop, the session was not finished, or no pain score after it.
5. ``raise``: one thing only, never two (docs/practice.md: "never raise speed and incline at the same
   time"), taking turns after the last raised thing: speed +0.1 mph, time +1 minute, incline
   +1 % only once steady at 1.0-2.0 mph. Each stops at its target or the therapist's limit.
6. ``hold`` at the target dose when nothing may go up.

Speeds are km/h inside, as everywhere in the core; steps and ceilings are in the member's units
rounded to what a treadmill console shows (0.1), so the numbers people read are the numbers used.
"""

from __future__ import annotations

from typing import Any, Sequence

from .caps import Caps
from .progression_reasons import REASONS
from .record import Record, field, replace
from .units import KMH_PER_MPH, from_kmh, to_kmh, unit_label

# --- constants, each with its source ----------------------------------------------------------

#: docs/practice.md speed progression "+0.1-0.2 mph at a time": the smallest step in mph; in km/h
#: 0.2 km/h (0.12 mph), the smallest step a km/h console shows that lies inside that range.
SPEED_STEP = {"mph": 0.1, "kmh": 0.2}
#: docs/practice.md duration progression "+1-2 minutes": the smaller step.
MINUTES_STEP = 1.0
#: docs/practice.md incline "1-2 %, then slowly up": the smaller step.
INCLINE_STEP_PCT = 1.0

#: docs/practice.md typical target "about 2.0 mph comfortable": without a therapist's speed limit the
#: suggestions stop here (3.0-3.5 mph holding the rails is for the therapist to allow).
SPEED_TARGET_KMH = 2.0 * KMH_PER_MPH
#: docs/practice.md: "therapists often prescribe 5-10" minutes; the knee OA trial (Alghadir et al.
#: 2019) used 10. Without a therapist's limit the suggestions stop at 10 minutes.
MINUTES_TARGET = 10.0
#: docs/practice.md gives no incline target ("—"); its first incline step is 1-2 %. Without a
#: therapist's incline limit the suggestions stop at 2 %.
INCLINE_TARGET_PCT = 2.0
#: docs/practice.md: incline "only once stable at speed: 1-2 %, then slowly up, at 1.0-2.0 mph".
INCLINE_MIN_SPEED_KMH = 1.0 * KMH_PER_MPH
INCLINE_MAX_SPEED_KMH = 2.0 * KMH_PER_MPH

#: docs/practice.md ("Sharp pain: stop"): hold when pain after is higher than pain before by 2 or more.
HOLD_PAIN_RISE = 2
#: Step back after two sessions with worse pain.
STEP_BACK_SESSIONS = 2

#: Floors for stepping back, docs/practice.md starting dose: speed 0.5 mph ("some treadmills start at
#: 0.5"), 2 minutes (start 2-5), flat.
SPEED_FLOOR_KMH = 0.5 * KMH_PER_MPH
MINUTES_FLOOR = 2.0
INCLINE_FLOOR_PCT = 0.0

THINGS = ("speed", "minutes", "incline")
#: How people read each thing in a sentence.
THING_WORDS = {"speed": "speed", "minutes": "time", "incline": "incline", None: "the dose"}

#: Catalogue of reasons: key -> default English sentence (app.core.progression_reasons, where the UI's
#: catalogue imports it from without this module's rules and records).


# --- data ----------------------------------------------------------------------------------------


class Dose(Record):
    """What a session prescribes: main-phase speed (km/h), minutes, incline (%), rails."""

    speed_kmh: float
    minutes: float
    incline_pct: float = 0.0
    rails: str = "required"

    def value(self, thing: str) -> float:
        return {"speed": self.speed_kmh, "minutes": self.minutes, "incline": self.incline_pct}[thing]

    def with_value(self, thing: str, value: float) -> "Dose":
        name = {"speed": "speed_kmh", "minutes": "minutes", "incline": "incline_pct"}[thing]
        return replace(self, **{name: value})


class Limits(Record):
    """The therapist's limits for progression; ``None`` means "the default target" (see above)."""

    max_speed_kmh: float | None = None
    max_minutes: float | None = None
    max_incline_pct: float | None = None

    def limit(self, thing: str) -> float | None:
        return {"speed": self.max_speed_kmh, "minutes": self.max_minutes, "incline": self.max_incline_pct}[thing]


class SessionOutcome(Record):
    """What progression needs to know about one past session."""

    session_id: int | None = None
    status: str = "completed"          # completed | stopped | emergency_stop | interrupted
    pain_before: int | None = None
    pain_after: int | None = None
    early_releases: int = 0
    emergency_stops: int = 0
    pain_tapped: bool = False          # the in-session pain button was used
    speed_kmh: float | None = None     # the fastest backward target walked, if known

    @property
    def pain_rise(self) -> int | None:
        if self.pain_before is None or self.pain_after is None:
            return None
        return self.pain_after - self.pain_before

    @property
    def pain_worse(self) -> bool:
        rise = self.pain_rise
        return self.pain_tapped or (rise is not None and rise > 0)


class Reason(Record):
    key: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        return REASONS[self.key].format(**self.params)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params), "text": self.text}


class Suggestion(Record):
    action: str                        # lower | start | step_back | hold | raise
    what: str | None                   # speed | minutes | incline | None
    current: Dose
    next: Dose
    reasons: tuple[Reason, ...]
    based_on_session: int | None = None

    @property
    def text(self) -> str:
        """Every reason, one sentence each, as shown to the person."""
        return ". ".join(r.text for r in self.reasons)


# --- formatting helpers -------------------------------------------------------------------------


def _display(thing: str, value: float, units: str) -> float:
    if thing == "speed":
        return round(from_kmh(value, units), 1)
    return round(value, 1)


def _fmt(thing: str, value: float, units: str) -> str:
    if thing == "speed":
        return f"{from_kmh(value, units):.1f} {unit_label(units)}"
    if thing == "minutes":
        return f"{value:g} min"
    return f"{value:g} %"


def format_dose(dose: Dose, units: str) -> str:
    return ", ".join(_fmt(t, dose.value(t), units) for t in THINGS)


def _from_display(thing: str, value: float, units: str) -> float:
    return to_kmh(value, units) if thing == "speed" else value


# --- the rules ------------------------------------------------------------------------------------


def ceiling(thing: str, limits: Limits, caps: Caps | None = None) -> float:
    """How far suggestions may take *thing*: the therapist's limit, else the default target; never
    above the member's caps (backward walking)."""
    default = {"speed": SPEED_TARGET_KMH, "minutes": MINUTES_TARGET, "incline": INCLINE_TARGET_PCT}[thing]
    limit = limits.limit(thing)
    top = default if limit is None else limit
    if caps is not None and thing == "speed":
        top = min(top, caps.backward_speed_kmh)
    if caps is not None and thing == "incline":
        top = min(top, caps.backward_incline_pct)
    return top


def _step_up(thing: str, dose: Dose, top: float, units: str) -> float | None:
    """The next value up, on the console's 0.1 grid, never above *top*; None if no room."""
    now = _display(thing, dose.value(thing), units)
    step = {"speed": SPEED_STEP[units], "minutes": MINUTES_STEP, "incline": INCLINE_STEP_PCT}[thing]
    # Round the ceiling *down* to the grid so a shown value never exceeds the limit.
    top_shown = int(_display_raw(thing, top, units) * 10 + 1e-6) / 10
    new = min(round(now + step, 1), top_shown)
    if new <= now + 1e-9:
        return None
    return _from_display(thing, new, units)


def _display_raw(thing: str, value: float, units: str) -> float:
    return from_kmh(value, units) if thing == "speed" else value


def _step_down(thing: str, dose: Dose, units: str) -> float | None:
    now = _display(thing, dose.value(thing), units)
    step = {"speed": SPEED_STEP[units], "minutes": MINUTES_STEP, "incline": INCLINE_STEP_PCT}[thing]
    floor = {"speed": SPEED_FLOOR_KMH, "minutes": MINUTES_FLOOR, "incline": INCLINE_FLOOR_PCT}[thing]
    floor_shown = round(_display_raw(thing, floor, units), 1)
    new = max(round(now - step, 1), floor_shown)
    if new >= now - 1e-9:
        return None
    return _from_display(thing, new, units)


def _incline_ready(dose: Dose, last: SessionOutcome, last_raised: str | None) -> bool:
    """docs/practice.md: incline only once stable at speed, at 1.0-2.0 mph."""
    if not INCLINE_MIN_SPEED_KMH - 1e-6 <= dose.speed_kmh <= INCLINE_MAX_SPEED_KMH + 1e-6:
        return False
    if last_raised == "speed":
        return False  # the speed is new: one session at it first
    if last.speed_kmh is not None and abs(last.speed_kmh - dose.speed_kmh) > 0.05:
        return False  # the last session did not run at this speed
    return True


def _rotation(last_raised: str | None) -> list[str]:
    if last_raised not in THINGS:
        return list(THINGS)
    i = THINGS.index(last_raised)
    return list(THINGS[i + 1:] + THINGS[: i + 1])


def _candidate(dose: Dose, last: SessionOutcome, limits: Limits, caps: Caps | None, units: str,
               last_raised: str | None) -> tuple[str | None, float | None, bool]:
    """The one thing to raise next and its new value; the flag says incline waits for steadiness."""
    incline_waits = False
    for thing in _rotation(last_raised):
        new = _step_up(thing, dose, ceiling(thing, limits, caps), units)
        if new is None:
            continue
        if thing == "incline" and not _incline_ready(dose, last, last_raised):
            incline_waits = incline_waits or INCLINE_MIN_SPEED_KMH - 1e-6 <= dose.speed_kmh <= INCLINE_MAX_SPEED_KMH + 1e-6
            continue
        return thing, new, False
    return None, None, incline_waits


def _hold_reasons(last: SessionOutcome, thing: str | None) -> list[Reason]:
    word = THING_WORDS[thing]
    reasons: list[Reason] = []
    rise = last.pain_rise
    if rise is not None and rise >= HOLD_PAIN_RISE:
        reasons.append(Reason("progress_hold_pain_rise", {"thing": word, "rise": rise, "before": last.pain_before, "after": last.pain_after}))
    if last.pain_tapped:
        reasons.append(Reason("progress_hold_pain_tap", {"thing": word}))
    if last.early_releases > 0:
        reasons.append(Reason("progress_hold_early_release", {"thing": word, "count": last.early_releases}))
    if last.emergency_stops > 0 or last.status == "emergency_stop":
        reasons.append(Reason("progress_hold_estop", {"thing": word}))
    if not reasons and last.status != "completed":
        reasons.append(Reason("progress_hold_unfinished", {"thing": word}))
    if not reasons and last.pain_after is None:
        reasons.append(Reason("progress_hold_pain_unknown", {"thing": word}))
    return reasons


def suggest(
    current: Dose,
    history: Sequence[SessionOutcome],
    limits: Limits = Limits(),
    *,
    units: str = "mph",
    caps: Caps | None = None,
    last_raised: str | None = None,
) -> Suggestion:
    """The suggestion for the next session.

    :param current: the dose the member is prescribed now.
    :param history: past sessions of this member, oldest first (only the last few matter).
    :param limits: the therapist's limits; never exceeded.
    :param units: ``mph`` or ``kmh``: steps and shown values follow the member's console.
    :param caps: the member's caps (tighten the ceilings further).
    :param last_raised: what the last accepted raise changed, so raises take turns.
    """
    based_on = history[-1].session_id if history else None

    def make(action: str, what: str | None, new: Dose, reasons: list[Reason]) -> Suggestion:
        return Suggestion(action, what, current, new, tuple(reasons), based_on)

    # 1. Never above the therapist's limits.
    lowered, reasons = current, []
    for thing in THINGS:
        limit = limits.limit(thing)
        if limit is not None and current.value(thing) > limit + 1e-6:
            lowered = lowered.with_value(thing, limit)
            reasons.append(Reason("progress_over_limit", {"thing": THING_WORDS[thing], "old": _fmt(thing, current.value(thing), units), "new": _fmt(thing, limit, units)}))
    if reasons:
        first = next(t for t in THINGS if lowered.value(t) != current.value(t))
        return make("lower", first, lowered, reasons)

    # 2. Nothing to go on yet.
    if not history:
        return make("start", None, current, [Reason("progress_no_sessions")])
    last = history[-1]

    # 3. Step back after two sessions with worse pain.
    recent = history[-STEP_BACK_SESSIONS:]
    if len(recent) == STEP_BACK_SESSIONS and all(s.pain_worse for s in recent):
        order = ([last_raised] if last_raised in THINGS else []) + ["incline", "speed", "minutes"]
        for thing in dict.fromkeys(order):
            new = _step_down(thing, current, units)
            if new is not None:
                reason = Reason("progress_step_back_pain", {"thing": THING_WORDS[thing], "old": _fmt(thing, current.value(thing), units), "new": _fmt(thing, new, units), "count": STEP_BACK_SESSIONS})
                return make("step_back", thing, current.with_value(thing, new), [reason])
        return make("hold", None, current, [Reason("progress_step_back_floor", {"thing": THING_WORDS[None], "count": STEP_BACK_SESSIONS})])

    # 4. Hold on pain, early releases, an e-stop, an unfinished session, an unknown pain score.
    thing, new_value, incline_waits = _candidate(current, last, limits, caps, units, last_raised)
    holds = _hold_reasons(last, thing)
    if holds:
        return make("hold", thing, current, holds)

    # 5. Raise one thing only.
    if thing is not None and new_value is not None:
        reason = Reason("progress_raise", {"thing": THING_WORDS[thing], "old": _fmt(thing, current.value(thing), units), "new": _fmt(thing, new_value, units)})
        return make("raise", thing, current.with_value(thing, new_value), [reason])

    # 6. Nothing may go up.
    if incline_waits:
        return make("hold", "incline", current, [Reason("progress_hold_incline_steady", {"speed": _fmt("speed", current.speed_kmh, units)})])
    return make("hold", None, current, [Reason("progress_hold_target", {"dose": format_dose(current, units)})])
