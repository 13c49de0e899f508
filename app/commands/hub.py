"""``backstep hub init|add-station|status``: the clinic hub's owner commands (docs/hub.md).

They take the owner's connection string with ``--dsn`` or ``$BACKSTEP_HUB_DSN`` (the environment
keeps it out of the process list). The owner credential is never stored on a station.
"""

from __future__ import annotations

import json
import os

from ..errors import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser("hub", help="the clinic hub on PostgreSQL: set up, add stations, status",
                                   description="The clinic hub: one PostgreSQL database shared by the stations.")
    commands = parser.add_subparsers(dest="hub_command", metavar="ACTION", required=True)

    def with_dsn(p, what: str):
        p.add_argument("--dsn", help=f"{what} connection string (default: $BACKSTEP_HUB_DSN)")
        return p

    init = with_dsn(commands.add_parser("init", help="create or upgrade the hub's schema (safe to run again)"),
                    "the database owner's")
    init.set_defaults(func=init_command)
    add = with_dsn(commands.add_parser("add-station", help="create a station's login; print its connection string"),
                   "the database owner's")
    add.add_argument("station_id", metavar="STATION_ID", help="the station's [station] id, e.g. front-1")
    add.add_argument("--json", action="store_true", help='print {"station_id": ..., "dsn": ...}')
    add.set_defaults(func=add_station_command)
    program = with_dsn(commands.add_parser("add-program", help="put a therapist's program file on the hub for every station"),
                       "the database owner's")
    program.add_argument("file", metavar="FILE", help="a program file (checked first: backstep programs check FILE)")
    program.set_defaults(func=add_program_command)
    status = with_dsn(commands.add_parser("status", help="each station's last sync and what the hub holds"),
                      "an owner's or a station's")
    status.add_argument("--json", action="store_true", help="print a JSON array")
    status.set_defaults(func=status_command)


def _dsn(args) -> str:
    dsn = args.dsn or os.environ.get("BACKSTEP_HUB_DSN", "")
    if not dsn:
        raise UserError("give the hub's connection string with --dsn or $BACKSTEP_HUB_DSN")
    return dsn


def init_command(args) -> int:
    from ..hub.admin import init_hub
    from ..hub.schema import SCHEMA_VERSION

    applied = init_hub(_dsn(args))
    for name in applied:
        print(f"applied {name}")
    print(f"the hub's schema is at version {SCHEMA_VERSION}" + ("" if applied else " (already up to date)"))
    return 0


def add_station_command(args) -> int:
    from ..hub.admin import add_station

    dsn = add_station(_dsn(args), args.station_id)
    if args.json:
        print(json.dumps({"station_id": args.station_id, "dsn": dsn}))
    else:
        print(dsn)
    return 0


def add_program_command(args) -> int:
    from ..hub.admin import add_program

    program_id, version = add_program(_dsn(args), args.file)
    print(f"program {program_id} is on the hub as version {version}; each station takes it on its next sync")
    return 0


def status_command(args) -> int:
    from ..hub.admin import hub_status

    stations = hub_status(_dsn(args))
    if args.json:
        print(json.dumps([s.as_dict() for s in stations], indent=2))
        return 0
    if not stations:
        print("no stations yet; add one with: backstep hub add-station STATION_ID --dsn OWNER_DSN")
    for s in stations:
        last = s.last_sync or "never synced"
        waiting = "" if s.waiting is None else f", {s.waiting} session(s) waiting at the station"
        print(f"{s.station_id}: last sync {last}; {s.sessions} session(s), {s.samples} sample(s), "
              f"{s.members_added} member(s) added there{waiting}")
    return 0
