"""``backstep export``: the session logs onto a USB stick (or any folder), as the kiosk does it."""

from __future__ import annotations

import json
import sys

from ..errors import UserError
from ..kiosk.charts import chart_png
from ..shell.export import ExportJob
from .common import config_from, db_path_from


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the session logs (CSV, JSON Lines, TCX) to a USB stick or folder",
        description="Write the sessions into DIR/Backstep/<station-id>/: sessions.csv (every session ever exported "
        "to that stick), a folder per export under exports/ (its sessions.csv, samples.csv, events.csv, "
        "backstep.jsonl), one TCX file per session under tcx/, one PNG of history charts per member under charts/, "
        "README.txt and manifest.json (written last). "
        "By default only what is new since the last export to the same stick; --all writes everything.",
    )
    parser.add_argument("--to", required=True, metavar="DIR", help="the stick's folder (its mount point), which must exist")
    parser.add_argument("--db", metavar="FILE", help="the database (default: $BACKSTEP_DB or the station's)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="write every finished session, not only the new ones")
    which.add_argument("--since", metavar="ISO|SESSION_ID",
                       help="only sessions from this session id, or started at/after this date or time "
                       "(e.g. 2026-11-01 or 2026-11-01T08:00+01:00); does not change what counts as new")
    parser.add_argument("--eject", action="store_true", help="unmount DIR after a successful export (then the stick is safe to remove)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args) -> int:
    config = config_from(args)
    selection = "all" if args.all else "since" if args.since else "incremental"
    job = ExportJob(db_path_from(args, config), args.to, config, selection=selection, since=args.since,
                    charts=chart_png)
    show_progress = not args.quiet and not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show_progress and total:
            print(f"\rexporting: {done}/{total} sessions", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = job.run(progress)
    if not result.ok:
        raise UserError(result.message)
    ejected = None
    if args.eject:
        from ..shell.usb import unmount

        ejected = unmount(args.to)
        if not ejected.ok:
            raise UserError(f"{result.message}; but {ejected.message}")
    if args.json:
        payload = result.as_json()
        if ejected is not None:
            payload["ejected"] = ejected.ok
        print(json.dumps(payload))
        return 0
    print(result.message)
    if ejected is not None:
        print(ejected.message)
    return 0
