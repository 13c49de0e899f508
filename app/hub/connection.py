"""Connecting to the hub: psycopg 3, imported only here and only when a hub is used.

A station without a hub never imports psycopg (it is the optional extra ``backstep[hub]``).
Every failure becomes one :class:`HubError` line that names the hub without its password.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import UserError

#: A hub that does not answer within this many seconds is "unreachable" for this pass; the sync
#: loop backs off and tries again (the station never waits on the network: docs/hub.md).
CONNECT_TIMEOUT_S = 5
#: No single statement may hold a station's sync for longer than this.
STATEMENT_TIMEOUT_MS = 60_000


class HubError(UserError):
    """The hub could not be reached or refused something; one line, what to do."""


def dsn_from_config(hub_section) -> str | None:
    """The station's hub connection string from its config's ``[hub]``; ``None`` without a hub.

    ``dsn_file`` must be readable by its owner only: it holds the station's password.
    """
    import os
    import stat
    from pathlib import Path

    if hub_section.dsn and hub_section.dsn_file:
        raise HubError("[hub] has both dsn and dsn_file; keep one")
    if hub_section.dsn:
        return hub_section.dsn.strip()
    if not hub_section.dsn_file:
        return None
    path = Path(hub_section.dsn_file)
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise HubError(f"{path}: [hub] dsn_file not found; write the station's connection string there (mode 0600)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HubError(f"{path}: cannot read [hub] dsn_file ({exc.__class__.__name__}); it must be readable by the "
                       f"kiosk's user") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HubError(f"{path}: [hub] dsn_file holds a password but others may read it; run: chmod 600 {path}")
    if not text:
        raise HubError(f"{path}: [hub] dsn_file is empty; put the station's connection string in it")
    return text.splitlines()[0].strip()


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise HubError("the hub needs psycopg 3: pip install 'backstep[hub]' (or: pip install 'psycopg[binary]')") from None
    return psycopg


def redact(dsn: str) -> str:
    """*dsn* with any password hidden, for messages and logs."""
    dsn = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", dsn)


def where(dsn: str) -> str:
    """host:port/dbname of *dsn*, for one-line messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - a malformed DSN still gets a message
        return redact(dsn)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def connect(dsn: str) -> Any:
    """A connection to the hub, or :class:`HubError` saying why not and what to check.

    In autocommit mode, so that every ``with conn.transaction():`` is a real transaction that has
    committed when the block ends. (Without it, the first statement opens a transaction that the
    blocks only nest savepoints in, and nothing commits before the connection closes: a station
    would note a batch as sent that the hub had not kept.)"""
    psycopg = _psycopg()
    if not dsn or not dsn.strip():
        raise HubError("no hub connection string; set [hub] dsn (or dsn_file) in the config, or pass --dsn")
    try:
        return psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True,
                               options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
    except psycopg.ProgrammingError as exc:
        raise HubError(f"the hub connection string is not valid ({_first_line(exc)}); "
                       f"write it as 'host=... dbname=... user=... password=...' or postgresql://...") from None
    except psycopg.OperationalError as exc:
        raise HubError(f"cannot reach the hub at {where(dsn)}: {_first_line(exc)}; check the network, "
                       f"the address and the station's credentials (backstep doctor)") from None


def _first_line(exc: BaseException) -> str:
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    line = text[0] if text else type(exc).__name__
    line = re.sub(r"^(connection failed: )?connection to server at .*?(, port \d+)? failed: ", "", line)
    return redact(line)[:200]


def explain(exc: BaseException, doing: str) -> HubError:
    """A psycopg error met while *doing* something, as one line."""
    return HubError(f"the hub refused {doing}: {_first_line(exc)}")


def check(dsn: str, station_id: str) -> str:
    """``doctor``'s check: the hub answers with this station's login. Returns a line; raises HubError."""
    psycopg = _psycopg()
    with connect(dsn) as conn:
        try:
            row = conn.execute("SELECT backstep.current_station(), "
                               "(SELECT max(version) FROM backstep.schema_migrations), "
                               "(SELECT max(at) FROM backstep.syncs WHERE station_id = backstep.current_station())"
                               ).fetchone()
        except psycopg.errors.UndefinedTable:
            raise HubError(f"the hub at {where(dsn)} has no Backstep schema; run: backstep hub init --dsn OWNER_DSN") from None
        except psycopg.Error as exc:
            raise explain(exc, "doctor's question") from None
    mine, version, last = row
    if mine is None:
        raise HubError(f"the hub at {where(dsn)} does not know this login as a station; use the connection string "
                       f"that 'backstep hub add-station {station_id}' printed")
    if mine != station_id:
        raise HubError(f"this login is station {mine!r} at the hub but [station] id is {station_id!r}; make them agree")
    return (f"the hub at {where(dsn)} answers (schema version {version}); this station's last sync: "
            f"{last.isoformat(timespec='seconds') if last else 'never'}")
