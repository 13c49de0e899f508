"""Shared pieces of the command modules: config, database and program lookup, in one place."""

from __future__ import annotations

from pathlib import Path

from ..access import database_problem
from ..config import Config, load_config
from ..errors import UserError
from ..paths import default_db_path
from ..shell.store import Store, StoreError


def config_from(args) -> Config:
    return load_config(getattr(args, "config", None))


def db_path_from(args, config: Config) -> Path:
    explicit = getattr(args, "db", None)
    return Path(explicit) if explicit else default_db_path(config.store.db_path)


def open_store(args, config: Config, *, must_exist: bool = False, quiet: bool = False) -> Store:
    """Open the store named by ``--db`` (or the default); print its one-line notices on stderr."""
    import sys

    path = db_path_from(args, config)
    blocked = database_problem(path, write=True, create=True)
    if blocked:
        raise UserError(blocked)
    if must_exist and not path.exists():
        raise UserError(f"{path}: no database here yet; run a session first or pass --db FILE")
    try:
        store = Store(path, station_id=config.station.id)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    if not quiet:
        for notice in store.notices:
            print(f"backstep: {notice}", file=sys.stderr)
    return store


def resolve_program(config: Config, id_or_path: str):
    """A program by library id or by file path; a one-line UserError when neither fits."""
    from ..shell.library import load_library

    return load_library(config).resolve(id_or_path)


def add_json_options(parser, what: str) -> None:
    """``--json`` (one JSON array) and ``--nl`` (one JSON object per line), as sqlite-utils has them."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help=f"print the {what} as one JSON array")
    group.add_argument("--nl", action="store_true", help="print one JSON object per line (newline-delimited JSON)")


def print_records(records: list[dict], args) -> bool:
    """Print *records* as ``--json`` or ``--nl`` asked; False when neither was (print them as text)."""
    import json

    if getattr(args, "nl", False):
        for record in records:
            print(json.dumps(record))
        return True
    if getattr(args, "json", False):
        print(json.dumps(records, indent=2))
        return True
    return False
