"""Members, suggestions and histories in words, as ``backstep members`` prints them, and the
``--override`` spec it reads. Each function returns text; the command prints it."""

from __future__ import annotations

from ..core.units import from_kmh, unit_label
from ..errors import UserError
from .history import MemberHistory
from .members import MemberRecord, StoredSuggestion

OVERRIDE_KEYS = ("speed", "minutes", "incline", "rails")


def member_line(m: MemberRecord) -> str:
    """One member as a row of ``members list``: id, code, name, prescription, hands-free."""
    rx = f"{from_kmh(m.rx_speed_kmh, m.units):.1f} {unit_label(m.units)}, {m.rx_minutes:g} min, {m.rx_incline_pct:g} %"
    hands = "hands-free allowed" if m.hands_free_allowed else "rails always"
    return f"{m.id:>4}  {m.code or '-':<8} {m.name:<24} {rx:<26} {hands}{'  (archived)' if m.archived else ''}"


def suggestion_lines(s: StoredSuggestion) -> list[str]:
    """A suggestion: what it says, why, the doses now, next and decided, and who decided."""
    after = f"after session {s.session_id}" if s.session_id else "before the first session"
    lines = [f"suggestion {after}: {s.action}{' ' + s.what if s.what else ''} ({s.status})"]
    lines += [f"  - {reason['text']}" for reason in s.reasons]
    unit = unit_label(s.units)
    for label, dose in (("now", s.current), ("next", s.next), ("decided", s.final)):
        if dose is not None:
            lines.append(f"  {label:<8} {from_kmh(dose.speed_kmh, s.units):.1f} {unit}, {dose.minutes:g} min, "
                         f"{dose.incline_pct:g} % incline, rails {dose.rails}")
    if s.decided_by:
        lines.append(f"  {s.status} by {s.decided_by} at {s.decided_at}")
    return lines


def summary_line(member: MemberRecord, history: MemberHistory) -> str:
    """Sessions, this week against the goal, minutes and top backward speed, on one line."""
    s = history.summary
    goal = f" of {s.goal_per_week}" if s.goal_per_week else ""
    return (f"sessions: {s.sessions} ({s.sessions_this_week}{goal} this week), {s.total_minutes:.0f} min in all, "
            f"top backward speed {from_kmh(s.top_backward_speed_kmh, member.units):.1f} {unit_label(member.units)}")


def history_lines(member: MemberRecord, history: MemberHistory) -> list[str]:
    """The weekly table against the goal, then one row per session."""
    unit = unit_label(member.units)
    lines = [f"{member.name}: week of      sessions{'/goal' if member.goal_per_week else ''}  minutes"]
    for w in history.weeks:
        goal = f"/{w.goal}" if w.goal else ""
        lines.append(f"  {w.week_start}  {w.sessions:>5}{goal:<5}  {w.minutes:7.1f}")
    lines.append("session  date        status          min  top speed     pain before/after  hands-free  "
                 "early releases  station")
    for p in history.sessions:
        pain = f"{'-' if p.pain_before is None else p.pain_before}/{'-' if p.pain_after is None else p.pain_after}"
        free = "-" if p.hands_free_share is None else f"{p.hands_free_share:.0%}"
        # Sessions walked at the clinic's other stations (docs/hub.md) carry their station's own id.
        number = p.session_id if p.station_id is None else p.station_session_id
        lines.append(f"{number:>7}  {p.started_at[:10]}  {p.status:<15} {p.minutes:4.1f}  "
                     f"{from_kmh(p.top_backward_speed_kmh, member.units):4.1f} {unit:<5}   {pain:>9}          "
                     f"{free:>5}  {p.early_releases:>5}           {p.station_id or 'here'}")
    return lines


def parse_override(spec: str) -> dict:
    """``speed=1.2,minutes=7`` -> ``{"speed": 1.2, "minutes": 7.0}``; one-line errors."""
    out: dict = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in OVERRIDE_KEYS:
            raise UserError(f"--override: {part!r} is not understood; write e.g. speed=1.2,minutes=7,incline=1,rails=required")
        value = value.strip()
        if key == "rails":
            if value not in ("required", "optional"):
                raise UserError(f"--override: rails={value!r} is not allowed; use required or optional")
            out[key] = value
            continue
        try:
            out[key] = float(value)
        except ValueError:
            raise UserError(f"--override: {key}={value!r} is not a number") from None
    if not out:
        raise UserError("--override: give at least one of speed=, minutes=, incline=, rails=")
    return out


def login_name() -> str:
    """Who is at the keyboard, so every decision names someone even without --by."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment: ask for --by instead
        return ""
