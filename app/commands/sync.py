"""``backstep sync``: copy this station's sessions up to the clinic hub and the clinic's members down.

``--once`` runs one pass and exits (non-zero with one line when the hub cannot be reached).
Without it, it keeps going beside the kiosk (``backstep-sync.service``): a pass every
``[hub] interval_s`` seconds, backing off to at most 10 minutes while the hub is away.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading

from ..errors import UserError
from .common import config_from, open_store

#: Back-off while the hub is unreachable: doubling from the interval up to this many seconds.
MAX_BACKOFF_S = 600.0


def register(subparsers) -> None:
    parser = subparsers.add_parser("sync", help="sync this station with the clinic hub ([hub] in the config)",
                                   description="Send this station's sessions to the clinic hub; take the clinic's members.")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--json", action="store_true", help="print what the pass did as one JSON object")
    parser.add_argument("--db", metavar="FILE", help="the station's database (default: the kiosk's)")
    parser.add_argument("--dsn", help="the hub connection string (default: [hub] in the config)")
    parser.set_defaults(func=sync_command)


def sync_command(args) -> int:
    from ..hub.connection import HubError, dsn_from_config
    from ..hub.sync import StationSync

    config = config_from(args)
    dsn = args.dsn or dsn_from_config(config.hub)
    if not dsn:
        raise UserError("this station has no hub; add [hub] dsn (or dsn_file) to the config, or pass --dsn")
    store = open_store(args, config)
    try:
        from ..shell.library import hub_programs_dir

        programs = hub_programs_dir(config) if not args.db else store.path.parent / "hub-programs"
        syncer = StationSync(store.db, config.station.id, dsn, programs_dir=programs, caps=config.safety.caps)
        if args.once:
            result = syncer.run_once()
            _report(result, args.json)
            return 0
        return _forever(syncer, config.hub.interval_s, args.json)
    finally:
        store.close()


def _report(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_dict()))
        return
    print(f"sent {result.sessions_sent} session(s) ({result.samples_sent} samples), {result.members_sent} member(s); "
          f"received {result.members_received} member(s), {result.sessions_received} session(s) from other stations, "
          f"{result.programs_received} program(s); "
          f"waiting: {result.waiting.get('sessions', 0)} session(s)")
    for conflict in result.conflicts:
        print(f"conflict: {conflict}")


def _forever(syncer, interval_s: float, as_json: bool) -> int:
    from ..hub.connection import HubError

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    wait = interval_s
    while not stop.is_set():
        try:
            _report(syncer.run_once(), as_json)
            wait = interval_s
        except HubError as exc:
            wait = min(wait * 2, MAX_BACKOFF_S)
            print(f"backstep sync: {exc}; trying again in {wait:.0f} s", file=sys.stderr)
        sys.stdout.flush()
        stop.wait(wait)
    return 0
