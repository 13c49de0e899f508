"""The ``backstep`` command: a thin layer over the library (as sqlite-utils' CLI is).

Each command group lives in its own module under :mod:`app.commands` and exposes
``register(subparsers)``; each sub-command sets ``func(args) -> int``. Anything a person or a file
can get wrong is raised as :class:`UserError` and printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import UserError

#: Command modules, in the order ``backstep --help`` lists them.
COMMAND_MODULES = (
    "run",
    "demo",
    "simulate",
    "programs",
    "sessions",
    "members",
    "export",
    "treadmill",
    "doctor",
    "staff_pin",
    "hub",
    "sync",
)


def requested_command(argv: list[str]) -> str | None:
    """The command named in *argv*, found without importing anything (skips ``--config FILE``)."""
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
            continue
        if word == "--config":
            skip_next = True
            continue
        if word.startswith("-"):
            continue
        module = word.replace("-", "_")  # ``staff-pin`` lives in app/commands/staff_pin.py
        return module if module in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With *only*, just that command's module is imported: the kiosk's start
    time counts (docs/architecture.md: READY within 1.5x a bare pygame window), and every command module
    pulls in heavy libraries (sqlite-utils, gpiozero, pyserial, pygame)."""
    parser = argparse.ArgumentParser(
        prog="backstep",
        description="Backstep: a supervised backward-walking station for an ordinary treadmill.",
    )
    parser.add_argument("--version", action="version", version=f"backstep {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: $BACKSTEP_CONFIG, then the usual places)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(f"app.commands.{name}").register(subparsers)
    return parser


def prepare_environment(environ=os.environ) -> None:
    """lgpio (gpiozero's pin factory on a Pi) makes its notification pipes in ``$LG_WD``, by default
    the current folder. Run as the kiosk's user from an administrator's home (``sudo -u backstep
    backstep doctor``) that folder is not writable and every GPIO check fails; the temp folder is."""
    if "LG_WD" not in environ and not os.access(os.curdir, os.W_OK):
        import tempfile  # only here: with shutil and random it is a few ms of every start

        environ["LG_WD"] = tempfile.gettempdir()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    prepare_environment()
    command = requested_command(argv)
    wants_help = command is None or any(word in ("-h", "--help") for word in argv[:1])
    parser = build_parser(None if wants_help else command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        # No command: a usage error, as click (and so sqlite-utils) has it - help on stderr, status 2.
        # ``backstep --help`` prints the same on stdout with status 0.
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"backstep: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("backstep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
