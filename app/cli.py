"""The ``backstep`` command: a thin layer over the library (as sqlite-utils' CLI is).

Each command group lives in its own module under :mod:`app.commands` and exposes
``register(subparsers)``; each sub-command sets ``func(args) -> int``. Anything a person or a file
can get wrong is raised as :class:`UserError` and printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backstep",
        description="Backstep: a supervised backward-walking station for an ordinary treadmill.",
    )
    parser.add_argument("--version", action="version", version=f"backstep {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: $BACKSTEP_CONFIG, then the usual places)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"app.commands.{name}":
                continue  # a command not built yet; the others still work
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
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
