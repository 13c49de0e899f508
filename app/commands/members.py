"""``backstep members``: staff create and change members; therapists read progress and decide on
suggestions. A thin layer over :mod:`app.shell.members` and :mod:`app.shell.history`."""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys

from ..core.units import from_kmh, unit_label
from ..errors import UserError
from ..shell.members import MemberRecord, Members, StoredSuggestion
from .common import add_json_options, config_from, open_store, print_records


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="FILE", help="the database (default: $BACKSTEP_DB or the station's)")


def _add_member_fields(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("member", "speeds are in the member's units (--units)")
    g.add_argument("--code", help="short code for the search field, e.g. K7 (1-12 letters, digits, '-')")
    g.add_argument("--units", choices=("mph", "kmh"), help="speed units shown to the member (default mph)")
    g.add_argument("--goal", type=int, metavar="N", help="goal sessions per week (docs/practice.md: 2-3)")
    g.add_argument("--program", metavar="ID", help="a prescribed library program (else the prescription runs)")
    caps = parser.add_argument_group("caps", "the safety core applies these to every belt command")
    caps.add_argument("--max-speed", type=float, metavar="V", help="backward speed cap")
    caps.add_argument("--max-forward-speed", type=float, metavar="V", help="forward speed cap")
    caps.add_argument("--max-incline", type=float, metavar="PCT", help="incline cap, percent")
    caps.add_argument("--hands-free", action="store_true", default=None,
                      help="allow hands-free walking in optional phases (off until a therapist turns it on)")
    lim = parser.add_argument_group("therapist limits", "progression suggestions never go above these")
    lim.add_argument("--limit-speed", type=float, metavar="V")
    lim.add_argument("--limit-minutes", type=float, metavar="MIN")
    lim.add_argument("--limit-incline", type=float, metavar="PCT")
    rx = parser.add_argument_group("prescription", "the dose progression works on (default 0.5 mph, 5 min, flat, rails held)")
    rx.add_argument("--speed", type=float, metavar="V")
    rx.add_argument("--minutes", type=float, metavar="MIN")
    rx.add_argument("--incline", type=float, metavar="PCT")
    rx.add_argument("--rails", choices=("required", "optional"))


FIELD_ARGS = ("code", "units", "goal", "program", "max_speed", "max_forward_speed", "max_incline", "hands_free",
              "limit_speed", "limit_minutes", "limit_incline", "speed", "minutes", "incline", "rails")


def register(subparsers) -> None:
    parser = subparsers.add_parser("members", help="members, their progress and progression suggestions")
    sub = parser.add_subparsers(dest="members_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(sys.stderr), 2)[1])  # as click: usage on stderr

    add = sub.add_parser("add", help="create a member")
    add.add_argument("name", metavar="NAME", help="display name or pseudonym")
    _add_member_fields(add)
    _add_db(add)
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=run_add)

    lst = sub.add_parser("list", help="list members")
    lst.add_argument("--all", action="store_true", help="include archived members")
    add_json_options(lst, "members")
    _add_db(lst)
    lst.set_defaults(func=run_list)

    show = sub.add_parser("show", help="a member, their summary and the current suggestion")
    show.add_argument("member", metavar="ID|CODE")
    show.add_argument("--json", action="store_true")
    _add_db(show)
    show.set_defaults(func=run_show)

    set_ = sub.add_parser("set", help="change a member")
    set_.add_argument("member", metavar="ID|CODE")
    set_.add_argument("--name", help="new display name or pseudonym")
    _add_member_fields(set_)
    set_.add_argument("--no-hands-free", dest="hands_free", action="store_false", default=None, help="turn hands-free walking off")
    set_.add_argument("--clear", action="append", default=[], metavar="FIELD",
                      help="unset a field: code, goal, program, max_speed, max_forward_speed, max_incline, "
                           "limit_speed, limit_minutes, limit_incline")
    set_.add_argument("--archive", dest="archived", action="store_true", default=None, help="hide from the home screen")
    set_.add_argument("--unarchive", dest="archived", action="store_false", default=None)
    set_.add_argument("--json", action="store_true")
    _add_db(set_)
    set_.set_defaults(func=run_set)

    sug = sub.add_parser("suggestion", help="the suggestion for the next session; accept or override it")
    sug.add_argument("member", metavar="ID|CODE")
    act = sug.add_mutually_exclusive_group()
    act.add_argument("--accept", action="store_true", help="make the suggestion the prescription")
    act.add_argument("--override", metavar="SPEC", help="set the next dose by hand: speed=..,minutes=..,incline=..,rails=..")
    sug.add_argument("--by", metavar="NAME", help="who decides, kept with the decision (default: your login name)")
    sug.add_argument("--json", action="store_true")
    _add_db(sug)
    sug.set_defaults(func=run_suggestion)

    hist = sub.add_parser("history", help="sessions per week against the goal, minutes, speed, pain, hands-free share")
    hist.add_argument("member", metavar="ID|CODE")
    hist.add_argument("--weeks", type=int, metavar="N", help="only the last N weeks in the weekly table")
    hist.add_argument("--json", action="store_true")
    _add_db(hist)
    hist.set_defaults(func=run_history)


def _one_line_db_errors(func):
    """A locked or read-only database (the kiosk writing, a stick mounted read-only) is one line."""

    @functools.wraps(func)
    def wrapper(args) -> int:
        try:
            return func(args)
        except sqlite3.Error as exc:
            raise UserError(f"the database could not be used ({exc}); try again, or check --db and its permissions") from None

    return wrapper


def _open(args):
    config = config_from(args)
    store = open_store(args, config)
    return store, Members(store, station_caps=config.safety.caps)


def _fields(args) -> dict:
    return {name: getattr(args, name, None) for name in FIELD_ARGS}


def _line(m: MemberRecord) -> str:
    rx = f"{from_kmh(m.rx_speed_kmh, m.units):.1f} {unit_label(m.units)}, {m.rx_minutes:g} min, {m.rx_incline_pct:g} %"
    hands = "hands-free allowed" if m.hands_free_allowed else "rails always"
    return f"{m.id:>4}  {m.code or '-':<8} {m.name:<24} {rx:<26} {hands}{'  (archived)' if m.archived else ''}"


@_one_line_db_errors
def run_add(args) -> int:
    store, members = _open(args)
    try:
        member = members.add(args.name, **_fields(args))
    finally:
        store.close()
    print(json.dumps(member.as_dict()) if args.json else f"added member {member.id}: {_line(member).strip()}")
    return 0


@_one_line_db_errors
def run_list(args) -> int:
    store, members = _open(args)
    try:
        rows = members.list(include_archived=args.all)
    finally:
        store.close()
    if print_records([m.as_dict() for m in rows], args):
        return 0
    if not rows:
        print("no members yet; add one with 'backstep members add NAME'")
    for m in rows:
        print(_line(m))
    return 0


@_one_line_db_errors
def run_set(args) -> int:
    store, members = _open(args)
    try:
        member = members.find(args.member)
        fields = {**_fields(args), "name": args.name, "archived": args.archived}
        if all(v is None for v in fields.values()) and not args.clear:
            raise UserError("nothing to change; give an option such as --speed 0.8 or --hands-free (see --help)")
        member = members.update(member.id, clear=args.clear, **fields)
    finally:
        store.close()
    print(json.dumps(member.as_dict()) if args.json else f"changed member {member.id}: {_line(member).strip()}")
    return 0


def _print_suggestion(s: StoredSuggestion) -> None:
    after = f"after session {s.session_id}" if s.session_id else "before the first session"
    print(f"suggestion {after}: {s.action}{' ' + s.what if s.what else ''} ({s.status})")
    for reason in s.reasons:
        print(f"  - {reason['text']}")
    unit = unit_label(s.units)
    for label, dose in (("now", s.current), ("next", s.next), ("decided", s.final)):
        if dose is not None:
            print(f"  {label:<8} {from_kmh(dose.speed_kmh, s.units):.1f} {unit}, {dose.minutes:g} min, "
                  f"{dose.incline_pct:g} % incline, rails {dose.rails}")
    if s.decided_by:
        print(f"  {s.status} by {s.decided_by} at {s.decided_at}")


@_one_line_db_errors
def run_show(args) -> int:
    store, members = _open(args)
    try:
        member = members.find(args.member)
        history = members.history(member.id, weeks=4)
        suggestion = members.suggestion(member.id)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"member": member.as_dict(), "summary": history.summary.as_dict(),
                          "weeks": [w.as_dict() for w in history.weeks],
                          "suggestion": suggestion.as_dict()}))
        return 0
    print(_line(member).strip())
    s = history.summary
    goal = f" of {s.goal_per_week}" if s.goal_per_week else ""
    print(f"sessions: {s.sessions} ({s.sessions_this_week}{goal} this week), {s.total_minutes:.0f} min in all, "
          f"top backward speed {from_kmh(s.top_backward_speed_kmh, member.units):.1f} {unit_label(member.units)}")
    _print_suggestion(suggestion)
    return 0


def parse_override(spec: str) -> dict:
    """``speed=1.2,minutes=7`` -> ``{"speed": 1.2, "minutes": 7.0}``; one-line errors."""
    out: dict = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("speed", "minutes", "incline", "rails"):
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


@_one_line_db_errors
def run_suggestion(args) -> int:
    override = parse_override(args.override) if args.override else None
    by = args.by if args.by is not None else _login_name()
    store, members = _open(args)
    try:
        member = members.find(args.member)
        if args.accept:
            result = members.accept(member.id, by=by)
        elif override:
            result = members.override(member.id, by=by, **override)
        else:
            result = members.suggestion(member.id)
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        _print_suggestion(result)
    return 0


def _login_name() -> str:
    """Who is at the keyboard, so every decision names someone even without --by."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment: ask for --by instead
        return ""


@_one_line_db_errors
def run_history(args) -> int:
    store, members = _open(args)
    try:
        member = members.find(args.member)
        history = members.history(member.id, weeks=args.weeks)
    finally:
        store.close()
    if args.json:
        print(json.dumps(history.as_dict()))
        return 0
    unit = unit_label(member.units)
    print(f"{member.name}: week of      sessions{'/goal' if member.goal_per_week else ''}  minutes")
    for w in history.weeks:
        goal = f"/{w.goal}" if w.goal else ""
        print(f"  {w.week_start}  {w.sessions:>5}{goal:<5}  {w.minutes:7.1f}")
    print("session  date        status          min  top speed     pain before/after  hands-free  early releases  station")
    for p in history.sessions:
        pain = f"{'-' if p.pain_before is None else p.pain_before}/{'-' if p.pain_after is None else p.pain_after}"
        free = "-" if p.hands_free_share is None else f"{p.hands_free_share:.0%}"
        # Sessions walked at the clinic's other stations (docs/hub.md) carry their station's own id.
        number = p.session_id if p.station_id is None else p.station_session_id
        print(f"{number:>7}  {p.started_at[:10]}  {p.status:<15} {p.minutes:4.1f}  "
              f"{from_kmh(p.top_backward_speed_kmh, member.units):4.1f} {unit:<5}   {pain:>9}          {free:>5}  {p.early_releases:>5}           {p.station_id or 'here'}")
    return 0
