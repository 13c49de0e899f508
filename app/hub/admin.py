"""The hub's owner side: create or upgrade the schema, add stations, show how they are doing.

These run with the clinic's owner credential (``--dsn OWNER_DSN``), which is never stored on a
station. :func:`add_station` creates the station's own login role with a generated password and
returns the connection string the station keeps in its config.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .connection import HubError, connect, explain
from .schema import BOOTSTRAP, MIGRATIONS, SCHEMA_VERSION, STATION_GROUP

STATION_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def role_for(station_id: str) -> str:
    """The PostgreSQL role a station logs in as (identifiers: letters, digits, underscore)."""
    return "backstep_st_" + station_id.replace("-", "_")


def init_hub(dsn: str) -> list[str]:
    """Create the hub's schema or bring it up to date; return the names of the migrations applied.

    Idempotent: run it again after an upgrade and only the new migrations run. A hub made by a
    newer Backstep is refused rather than touched.
    """
    psycopg = __import__("psycopg")
    applied: list[str] = []
    with connect(dsn) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('backstep hub migrations'))")
                conn.execute(BOOTSTRAP)
                done = {row[0] for row in conn.execute("SELECT version FROM backstep.schema_migrations")}
            newest = max(done, default=0)
            if newest > SCHEMA_VERSION:
                raise HubError(f"this hub has schema version {newest}, newer than this Backstep knows "
                               f"({SCHEMA_VERSION}); upgrade Backstep here before running hub init")
            for version, name, sql in MIGRATIONS:
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('backstep hub migrations'))")
                    conn.execute(sql)
                    conn.execute("INSERT INTO backstep.schema_migrations (version, name) VALUES (%s, %s)",
                                 (version, name))
                applied.append(f"{version:03d} {name}")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise HubError(f"hub init needs the database owner's credential (CREATE on the database, CREATEROLE): "
                           f"{str(exc).splitlines()[0]}") from None
        except psycopg.Error as exc:
            raise explain(exc, "the schema change") from None
    return applied


def add_station(dsn: str, station_id: str, *, password: str | None = None) -> str:
    """Create (or re-key) *station_id*'s role; return the station's connection string.

    Running it again for an existing station sets a new password: that is how a lost or stolen
    station credential is replaced. The returned DSN carries the owner DSN's host, port and
    database, the station's role and password, and ``sslmode=verify-full`` unless the owner DSN
    connects without TLS on this machine (a test or a hub on the station itself).
    """
    psycopg = __import__("psycopg")
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if not STATION_ID_PATTERN.match(station_id or ""):
        raise HubError(f"station id {station_id!r} is not allowed; use lower-case letters, digits and '-', "
                       f"up to 40 characters, starting with a letter or digit (it is [station] id in the station's config)")
    role = role_for(station_id)
    password = password or secrets.token_urlsafe(24)
    with connect(dsn) as conn:
        try:
            with conn.transaction():
                version = conn.execute("SELECT max(version) FROM backstep.schema_migrations").fetchone()[0]
                if version is None:
                    raise HubError("the hub has no schema yet; run: backstep hub init --dsn OWNER_DSN")
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)))
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(STATION_GROUP), sql.Identifier(role)))
                conn.execute("INSERT INTO backstep.stations (station_id, role_name) VALUES (%s, %s) "
                             "ON CONFLICT (station_id) DO NOTHING", (station_id, role))
        except psycopg.errors.UndefinedTable:
            raise HubError("the hub has no schema yet; run: backstep hub init --dsn OWNER_DSN") from None
        except psycopg.Error as exc:
            raise explain(exc, f"adding station {station_id}") from None
    parts = conninfo_to_dict(dsn)
    station = {k: v for k, v in parts.items() if k in ("host", "hostaddr", "port", "dbname", "sslmode", "sslrootcert")}
    station.update(user=role, password=password)
    if "sslmode" not in station and station.get("host", "localhost") not in ("localhost", "127.0.0.1", "::1") \
            and not str(station.get("host", "")).startswith("/"):
        station["sslmode"] = "verify-full"
    return make_conninfo(**station)


def add_program(dsn: str, path) -> tuple[str, int]:
    """Put a therapist's program file on the hub as its next version; every station takes it on
    its next sync. The file is checked first with every program rule (docs/programs.md)."""
    psycopg = __import__("psycopg")
    from ..shell.library import load_program_file

    program, problems = load_program_file(path)
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"] if program is None else []
    if program is None:
        raise HubError(f"{path}: not put on the hub; fix it first: {errors[0] if errors else problems[0]}")
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8")
    with connect(dsn) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('backstep program ' || %s))", (program.id,))
                version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM backstep.programs WHERE program_id = %s",
                                       (program.id,)).fetchone()[0]
                conn.execute("INSERT INTO backstep.programs (program_id, version, toml) VALUES (%s, %s, %s)",
                             (program.id, version, text))
        except psycopg.errors.InsufficientPrivilege:
            raise HubError("adding a program needs the hub owner's connection string (stations may not)") from None
        except psycopg.Error as exc:
            raise explain(exc, f"program {program.id}") from None
    return program.id, version


@dataclass(frozen=True)
class StationStatus:
    station_id: str
    last_sync: str | None
    sessions: int
    samples: int
    members_added: int
    waiting: int | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def hub_status(dsn: str) -> list[StationStatus]:
    """Each station's last sync and what the hub holds from it."""
    psycopg = __import__("psycopg")
    with connect(dsn) as conn:
        try:
            rows = conn.execute("""
                SELECT st.station_id,
                       (SELECT max(at) FROM backstep.syncs y WHERE y.station_id = st.station_id),
                       (SELECT count(*) FROM backstep.sessions s WHERE s.station_id = st.station_id),
                       (SELECT count(*) FROM backstep.samples s WHERE s.station_id = st.station_id),
                       (SELECT count(*) FROM backstep.members m WHERE m.station_id = st.station_id),
                       (SELECT waiting FROM backstep.syncs y WHERE y.station_id = st.station_id
                         ORDER BY at DESC LIMIT 1)
                FROM backstep.stations st ORDER BY st.station_id""").fetchall()
        except psycopg.errors.UndefinedTable:
            raise HubError("the hub has no schema yet; run: backstep hub init --dsn OWNER_DSN") from None
        except psycopg.Error as exc:
            raise explain(exc, "the status query") from None
    return [StationStatus(r[0], r[1].isoformat(timespec="seconds") if r[1] else None, r[2], r[3], r[4], r[5])
            for r in rows]
