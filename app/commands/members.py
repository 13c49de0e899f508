"""``backstep members``: staff create and change members; therapists read progress and decide on
suggestions. A thin layer over :mod:`app.shell.members` and :mod:`app.shell.history`; the words it
prints are :mod:`app.shell.member_text`."""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys

from ..errors import UserError
from ..shell.member_text import history_lines, login_name, member_line, parse_override, suggestion_lines, summary_line
from ..shell.members import Members
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


@_one_line_db_errors
def run_add(args) -> int:
    store, members = _open(args)
    try:
        member = members.add(args.name, **_fields(args))
    finally:
        store.close()
    print(json.dumps(member.as_dict()) if args.json else f"added member {member.id}: {member_line(member).strip()}")
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
        print(member_line(m))
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
    print(json.dumps(member.as_dict()) if args.json else f"changed member {member.id}: {member_line(member).strip()}")
    return 0


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
    print(member_line(member).strip())
    print(summary_line(member, history))
    print("\n".join(suggestion_lines(suggestion)))
    return 0


@_one_line_db_errors
def run_suggestion(args) -> int:
    override = parse_override(args.override) if args.override else None
    by = args.by if args.by is not None else login_name()
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
        print("\n".join(suggestion_lines(result)))
    return 0


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
    print("\n".join(history_lines(member, history)))
    return 0
