"""``backstep programs list | show | check``: the program library for the people who write programs.

``check`` is what a physical therapist runs on a file before copying it to the station: every problem
on its own line, sorted by line, and a non-zero exit on any error, so it also works in a script.
"""

from __future__ import annotations

import json
import sys

from ..shell.library import expand_program_files, load_library, load_program_file, problem_order
from ..shell.program_text import (broken_notes, describe_program, library_table, minutes_text, program_json,
                                  program_summary)
from .common import config_from, resolve_program


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "programs",
        help="list, show and check interval programs",
        description="The station's programs: the built-in library plus the station's own folder "
        "($BACKSTEP_PROGRAMS, /etc/backstep/programs or ~/.config/backstep/programs).",
    )
    parser.set_defaults(func=lambda args: _usage(parser))
    sub = parser.add_subparsers(dest="programs_command", metavar="COMMAND")

    listing = sub.add_parser("list", help="every program: id, name, minutes, units and who it is for")
    listing.add_argument("--json", action="store_true", help="print a JSON list of programs")
    listing.set_defaults(func=run_list)

    show = sub.add_parser("show", help="one program's phases: time, speed, incline, rails and cue")
    show.add_argument("program", metavar="ID|FILE", help="a program id from `backstep programs list`, or a program file")
    show.add_argument("--json", action="store_true", help="print the program as one JSON object")
    show.set_defaults(func=run_show)

    check = sub.add_parser(
        "check",
        help="validate program files; exits non-zero on any error",
        description="Validate program files against docs/programs.md and the station's caps. Prints every "
        "problem as 'FILE:LINE: error|warning: FIELD: MESSAGE', or 'OK: FILE (N phases, M min)'. "
        "Exits 1 on any error; warnings alone exit 0. A folder checks every .toml file in it.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="program files (.toml) or folders of them")
    check.set_defaults(func=run_check)


def _usage(parser) -> int:
    parser.print_help()
    return 2


# --------------------------------------------------------------------------------------------
# list


def run_list(args) -> int:
    library = load_library(config_from(args))
    for note in broken_notes(library):
        print(f"backstep: warning: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps([program_summary(p) for p in library.programs], indent=2))
        return 0
    if not library.programs:
        print("no programs found")
        return 0
    print(library_table(library.programs))
    return 0


# --------------------------------------------------------------------------------------------
# show


def run_show(args) -> int:
    program = resolve_program(config_from(args), args.program)
    if args.json:
        print(json.dumps(program_json(program), indent=2))
        return 0
    print(describe_program(program))
    return 0


# --------------------------------------------------------------------------------------------
# check


def run_check(args) -> int:
    caps = config_from(args).safety.caps
    files = expand_program_files(args.files)
    failed = 0
    for path in files:
        program, problems = load_program_file(path, caps)
        for problem in sorted(problems, key=problem_order):
            print(problem)
        if program is None:
            failed += 1
        else:
            count = len(program.phases)
            print(f"OK: {path} ({count} phase{'' if count == 1 else 's'}, {minutes_text(program.total_seconds)} min)")
    if len(files) > 1:
        print(f"{failed} of {len(files)} files have errors" if failed else f"all {len(files)} files OK")
    return 1 if failed else 0
