"""The hub's schema on PostgreSQL: versioned migrations, roles and row-level security.

Everything lives in the schema ``backstep`` of the clinic's database. Migrations are plain SQL,
applied in order inside one transaction each and recorded in ``backstep.schema_migrations``, so
``backstep hub init`` can run any number of times and upgrades an older hub in place. Append new
migrations; never edit an applied one.

Least privilege is PostgreSQL's job, not ours (docs/hub.md):

* every station logs in as its own role, a member of the group role ``backstep_station``;
* that group may SELECT what histories need and INSERT, nothing else: no UPDATE, DELETE or
  TRUNCATE is granted on any table, so the clinic's record is append-only for stations;
* row-level security lets a station insert only rows that carry its own ``station_id``
  (``backstep.current_station()`` maps the logged-in role to its station), so a stolen station
  credential cannot write in another station's name, nor rewrite or erase anything;
* a member changes by appending a version; a trigger refuses a version that is not exactly one
  above the newest, which is how a stale change from a station that was offline is detected.
"""

from __future__ import annotations

#: The group role every station role belongs to. Roles are cluster-wide in PostgreSQL.
STATION_GROUP = "backstep_station"

_SESSION_TABLES = ("sessions", "phases", "samples", "events", "session_stats", "scores")
_STATION_INSERT_TABLES = _SESSION_TABLES + ("station_events", "members", "member_codes", "member_versions", "syncs")

_M1_TABLES = """
CREATE TABLE backstep.stations (
    station_id  text PRIMARY KEY CHECK (station_id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    role_name   text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A member is a clinic-wide identity; what can change about them lives in member_versions.
CREATE TABLE backstep.members (
    member_uuid uuid PRIMARY KEY,
    station_id  text REFERENCES backstep.stations,        -- where they were added (NULL: at the hub)
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A code is claimed once, for one member, clinic-wide (case-insensitive).
CREATE TABLE backstep.member_codes (
    code_key    text PRIMARY KEY CHECK (code_key = lower(code_key)),
    member_uuid uuid NOT NULL REFERENCES backstep.members,
    station_id  text REFERENCES backstep.stations,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE backstep.member_versions (
    member_uuid            uuid NOT NULL REFERENCES backstep.members,
    version                integer NOT NULL CHECK (version >= 1),
    station_id             text REFERENCES backstep.stations,   -- who wrote it (NULL: at the hub)
    changed_at             timestamptz NOT NULL DEFAULT now(),
    name                   text NOT NULL,
    code                   text,
    units                  text NOT NULL CHECK (units IN ('mph', 'kmh')),
    cap_backward_speed_kmh double precision,
    cap_forward_speed_kmh  double precision,
    cap_incline_pct        double precision,
    hands_free_allowed     boolean NOT NULL DEFAULT false,
    program_id             text,
    goal_per_week          integer,
    limit_speed_kmh        double precision,
    limit_minutes          double precision,
    limit_incline_pct      double precision,
    rx_speed_kmh           double precision,
    rx_minutes             double precision,
    rx_incline_pct         double precision,
    rx_rails               text,
    archived               boolean NOT NULL DEFAULT false,
    PRIMARY KEY (member_uuid, version)
);

CREATE VIEW backstep.members_current AS
    SELECT DISTINCT ON (member_uuid) * FROM backstep.member_versions ORDER BY member_uuid, version DESC;

-- A version must be exactly one above the newest: two stations that changed the same member
-- offline both write "version 4"; the second is refused as stale and takes the hub's copy.
CREATE FUNCTION backstep.check_member_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE newest integer;
BEGIN
    SELECT max(version) INTO newest FROM backstep.member_versions WHERE member_uuid = NEW.member_uuid;
    IF NEW.version <> coalesce(newest, 0) + 1 THEN
        RAISE EXCEPTION 'stale member version % for %: the hub has version %', NEW.version, NEW.member_uuid,
            coalesce(newest, 0) USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER member_version_in_order BEFORE INSERT ON backstep.member_versions
    FOR EACH ROW EXECUTE FUNCTION backstep.check_member_version();

CREATE TABLE backstep.sessions (
    station_id          text NOT NULL REFERENCES backstep.stations,
    station_session_id  bigint NOT NULL,
    member_uuid         uuid REFERENCES backstep.members,
    member_name         text,
    program_id          text NOT NULL,
    program_name        text,
    program_units       text,
    program_snapshot    text,
    status              text NOT NULL,
    stop_reason         text,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    active_seconds      double precision,
    elapsed_seconds     double precision,
    phases_total        integer,
    phases_completed    integer,
    distance_m          double precision,
    source              text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, station_session_id)
);
CREATE INDEX sessions_member ON backstep.sessions (member_uuid, started_at);
CREATE INDEX sessions_received ON backstep.sessions (received_at);

CREATE TABLE backstep.phases (
    station_id          text NOT NULL,
    station_session_id  bigint NOT NULL,
    station_row_id      bigint NOT NULL,
    idx                 integer,
    name                text,
    direction           text,
    planned_seconds     double precision,
    target_speed_kmh    double precision,
    incline_pct         double precision,
    rails               text,
    round_label         text,
    started_at          timestamptz,
    t                   double precision,
    PRIMARY KEY (station_id, station_session_id, station_row_id),
    FOREIGN KEY (station_id, station_session_id) REFERENCES backstep.sessions
);

CREATE TABLE backstep.samples (
    station_id          text NOT NULL,
    station_session_id  bigint NOT NULL,
    station_row_id      bigint NOT NULL,
    t                   double precision,
    at                  timestamptz,
    mode                text,
    phase_idx           integer,
    target_speed_kmh    double precision,
    actual_speed_kmh    double precision,
    incline_pct         double precision,
    rails_held          boolean,
    lanyard_clipped     boolean,
    distance_m          double precision,
    PRIMARY KEY (station_id, station_session_id, station_row_id),
    FOREIGN KEY (station_id, station_session_id) REFERENCES backstep.sessions
);

CREATE TABLE backstep.events (
    station_id          text NOT NULL,
    station_session_id  bigint NOT NULL,
    station_row_id      bigint NOT NULL,
    at                  timestamptz,
    clock_s             double precision,
    t                   double precision,
    kind                text NOT NULL,
    safety              boolean NOT NULL DEFAULT false,
    detail              text,
    PRIMARY KEY (station_id, station_session_id, station_row_id),
    FOREIGN KEY (station_id, station_session_id) REFERENCES backstep.sessions
);

CREATE TABLE backstep.session_stats (
    station_id            text NOT NULL,
    station_session_id    bigint NOT NULL,
    walking_seconds       double precision,
    rails_held_seconds    double precision,
    rails_held_share      double precision,
    hands_free_share      double precision,
    early_releases        integer,
    rails_pauses          integer,
    longest_hands_free_s  double precision,
    top_backward_speed_kmh double precision,
    emergency_stops       integer,
    pain_tapped           boolean,
    pain_tap_t            double precision,
    PRIMARY KEY (station_id, station_session_id),
    FOREIGN KEY (station_id, station_session_id) REFERENCES backstep.sessions
);

-- Events that belong to no session (a start refused by the interlock, a sensor fault at rest).
CREATE TABLE backstep.station_events (
    station_id          text NOT NULL REFERENCES backstep.stations,
    station_row_id      bigint NOT NULL,
    at                  timestamptz,
    clock_s             double precision,
    kind                text NOT NULL,
    safety              boolean NOT NULL DEFAULT false,
    detail              text,
    PRIMARY KEY (station_id, station_row_id)
);

-- Pain and effort scores arrive after a session ends, so they are rows of their own: a station
-- never needs to update a session it already sent.
CREATE TABLE backstep.scores (
    station_id          text NOT NULL,
    station_session_id  bigint NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('pain_before', 'pain_after', 'effort')),
    value               integer NOT NULL CHECK (value BETWEEN 0 AND 10),
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, station_session_id, kind),
    FOREIGN KEY (station_id, station_session_id) REFERENCES backstep.sessions
);

-- One row per successful sync pass: what `backstep hub status` shows.
CREATE TABLE backstep.syncs (
    station_id      text NOT NULL REFERENCES backstep.stations,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    sessions_sent   integer NOT NULL DEFAULT 0,
    samples_sent    integer NOT NULL DEFAULT 0,
    members_sent    integer NOT NULL DEFAULT 0,
    waiting         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (station_id, at)
);

-- Programs written by therapists at the hub; stations take the newest version of each.
CREATE TABLE backstep.programs (
    program_id  text NOT NULL CHECK (program_id ~ '^[a-z0-9][a-z0-9-]*$'),
    version     integer NOT NULL CHECK (version >= 1),
    toml        text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, version)
);

CREATE FUNCTION backstep.current_station() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT station_id FROM backstep.stations WHERE role_name = session_user
$$;
"""


def _m1_privileges() -> str:
    """Grants and policies: read what histories need, insert only in one's own name."""
    lines = [
        f"DO $$ BEGIN CREATE ROLE {STATION_GROUP} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
        f"GRANT USAGE ON SCHEMA backstep TO {STATION_GROUP};",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA backstep TO {STATION_GROUP};",
        f"GRANT EXECUTE ON FUNCTION backstep.current_station() TO {STATION_GROUP};",
    ]
    for table in _STATION_INSERT_TABLES:
        lines += [
            f"GRANT INSERT ON backstep.{table} TO {STATION_GROUP};",
            f"ALTER TABLE backstep.{table} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY station_reads ON backstep.{table} FOR SELECT TO {STATION_GROUP} USING (true);",
            f"CREATE POLICY station_inserts_own ON backstep.{table} FOR INSERT TO {STATION_GROUP} "
            f"WITH CHECK (station_id = (SELECT backstep.current_station()));",  # once per statement
        ]
    for table in ("stations", "programs"):
        lines += [
            f"ALTER TABLE backstep.{table} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY station_reads ON backstep.{table} FOR SELECT TO {STATION_GROUP} USING (true);",
        ]
    return "\n".join(lines)


#: (version, name, SQL). Append only.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "stations, members, sessions and their rows; station privileges", _M1_TABLES + _m1_privileges()),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]

BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS backstep;
REVOKE ALL ON SCHEMA backstep FROM PUBLIC;
CREATE TABLE IF NOT EXISTS backstep.schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""
