"""``backstep doctor``: is this station wired and set up right? In plain words.

One line per check, ``OK``, ``PROBLEM`` or ``SKIPPED``, each saying what was found and, for a
problem, what to do. The exit status is 1 when anything is a PROBLEM, so an installer script can
stop on it. ``--sim`` runs the same checks against the simulated station (gpiozero's mock pins and
the treadmill simulator on a pseudo-terminal), which is how to try the checks off a Pi.

Nothing here moves the belt: the treadmill check only asks the treadmill what it is doing.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from ..kiosk.doctor import run_checks
from ..shell.doctor import PROBLEM


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check the config, pins, sensors, treadmill link, database and assets",
        description="Check the station's configuration, pins, live sensor states, treadmill link, "
                    "database and assets, and say what to fix. Exits 1 on any problem.")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    parser.add_argument("--sim", action="store_true",
                        help="check the simulated station (mock pins, simulated treadmill) instead of this one's")
    parser.add_argument("--db", metavar="FILE", help="database to check (default: $BACKSTEP_DB, then the usual place)")
    parser.set_defaults(func=doctor_command)


def doctor_command(args) -> int:
    checks = run_checks(getattr(args, "config", None), sim=args.sim, db=args.db)
    problems = sum(c.status == PROBLEM for c in checks)
    if args.json:
        print(json.dumps({"ok": problems == 0, "problems": problems, "sim": args.sim,
                          "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for check in checks:
            print(check.line())
        print(f"{problems} problem{'s' if problems != 1 else ''} found." if problems else "All checks passed.")
    return 1 if problems else 0
