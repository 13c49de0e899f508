"""``backstep simulate``: one session from a script, through the real core, store and sim hardware."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..shell.script import MAX_SCRIPT_BYTES, ScriptError, parse_script
from ..shell.simulate import run_script
from ..shell.textfile import TextFileError, read_text_file
from .common import config_from, open_store, resolve_program


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run one session from a script of sensor events (docs/commands.md, Simulation scripts)",
        description="Run one session from a script through the real safety core, store and simulated "
        "hardware. Script lines: 'SECONDS WHAT [ARG]', e.g. '0 lanyard clipped', '1 tap start', '95 link lost', '400 end'.",
    )
    parser.add_argument("--program", required=True, metavar="ID|FILE", help="a built-in program id or a program file")
    parser.add_argument("--script", required=True, metavar="FILE", help="the script of events")
    parser.add_argument("--db", metavar="FILE", help="the database (default: $BACKSTEP_DB or the station's)")
    parser.add_argument("--speed", type=float, metavar="FACTOR",
                        help="run at FACTOR times real time (1 = real time); default: as fast as possible")
    parser.add_argument("--member", metavar="ID|CODE", help="run as this member (their caps and hands-free rule apply)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary object")
    parser.set_defaults(func=run)


def run(args) -> int:
    config = config_from(args)
    script_path = Path(args.script)
    try:
        text = read_text_file(script_path, MAX_SCRIPT_BYTES, "script file")
    except TextFileError as exc:
        where = f"{script_path}:{exc.line}" if exc.line else str(script_path)
        raise UserError(f"{where}: script {exc}") from None
    try:
        script = parse_script(text, str(script_path))
    except ScriptError as exc:
        raise UserError("\n".join(exc.problems)) from None
    if args.speed is not None and not args.speed > 0:
        raise UserError(f"--speed {args.speed:g}: use a factor above 0 (1 = real time)")
    program = resolve_program(config, args.program)
    store = open_store(args, config)
    try:
        member = None
        if args.member:
            from ..shell.members import Members

            members = Members(store, station_caps=config.safety.caps)
            member = members.get_core_member(members.find(args.member).id)
        from ..shell.history import attach_stats

        result = run_script(program, script, store, config, speed=args.speed, member=member,
                            on_station=lambda station: station.add_listener(attach_stats(station, store)))
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.as_json(), indent=None))
        return 0
    print(f"session {result.session_id}: {program.name} — {result.status}")
    print(f"  program time run {result.active_seconds:.1f} s of {program.total_seconds:.0f} s; "
          f"elapsed {result.elapsed_seconds:.1f} s; phases {result.phases_completed}/{result.phases_total}; "
          f"{result.samples} samples stored")
    for pause in result.pauses:
        resumed = f"resumed at {pause['resumed_at']:g} s" if pause["resumed_at"] is not None else "not resumed"
        print(f"  pause at {pause['at']:g} s ({pause['reason']}), {resumed}")
    for stop in result.emergency_stops:
        print(f"  EMERGENCY STOP at {stop['at']:g} s (lanyard pulled)")
    return 0
