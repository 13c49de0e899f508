"""Members, their prescriptions and the progression suggestions, kept in the store's database.

Members are created by staff (docs/commands.md, backstep members). Each has a display name or pseudonym, a short code for the
search field, units, per-member caps, "hands-free allowed" (off until a therapist turns it on), an
optional prescribed library program, a goal of sessions per week, the therapist's limits for
progression, and a prescription (speed, minutes, incline, rails) that becomes a program through
:mod:`app.core.prescription`.

Suggestions are computed by the pure rules in :mod:`app.core.progression` from the member's last
sessions (:mod:`app.shell.history`), kept in ``suggestions`` one per (member, last session) while
pending (recomputed when a pain score arrives after the session), and fixed once the therapist
accepts or overrides them, with who and when. Only an accepted or overridden suggestion changes the
prescription: the station suggests, the therapist decides.

Its tables (``members``, ``suggestions``: the ``backstep-members`` migration set) are defined with
the rest of the station's database in :mod:`app.shell.schema`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlite_utils import Database

from ..core.caps import Caps
from ..core.member import Member
from ..core.prescription import prescription_program
from ..core.program import Program
from ..core.progression import (
    THINGS,
    Dose,
    Limits,
    Suggestion,
    format_dose,
    suggest,
)
from ..core.record import replace
from ..core.units import KMH_PER_MPH, UNITS, from_kmh, to_kmh, unit_label
from ..errors import UserError
from .history import History, MemberHistory
from .schema import members_migrations

#: docs/practice.md "Program patterns": "Beginner flat: 0.5 mph, flat, 2-5 minutes, rails held
#: throughout": the prescription a new member starts from until the therapist sets one.
START_DOSE = Dose(speed_kmh=0.5 * KMH_PER_MPH, minutes=5.0, incline_pct=0.0, rails="required")
#: docs/practice.md frequency: "2-3 times a week"; typical target 3. Goals above 7 a week are typos.
MAX_GOAL_PER_WEEK = 14
#: program.py MAX_PHASE_SECONDS: two hours is far beyond any protocol; below a minute is a typo.
MAX_MINUTES = 120.0
MIN_MINUTES = 1.0
CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,12}$")
MAX_NAME = 60


class MemberError(UserError):
    """A member input a person can fix; one line."""


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _db(store_or_db: Any) -> Database:
    return store_or_db if isinstance(store_or_db, Database) else store_or_db.db


# --- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRecord:
    """A member as stored. Speeds km/h; :meth:`as_dict` adds values in the member's units."""

    id: int
    name: str
    code: str | None
    units: str
    cap_backward_speed_kmh: float | None
    cap_forward_speed_kmh: float | None
    cap_incline_pct: float | None
    hands_free_allowed: bool
    program_id: str | None
    goal_per_week: int | None
    limit_speed_kmh: float | None
    limit_minutes: float | None
    limit_incline_pct: float | None
    rx_speed_kmh: float
    rx_minutes: float
    rx_incline_pct: float
    rx_rails: str
    archived: bool = False
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: dict) -> "MemberRecord":
        return cls(
            id=row["id"], name=row["name"], code=row["code"], units=row["units"],
            cap_backward_speed_kmh=row["cap_backward_speed_kmh"], cap_forward_speed_kmh=row["cap_forward_speed_kmh"],
            cap_incline_pct=row["cap_incline_pct"], hands_free_allowed=bool(row["hands_free_allowed"]),
            program_id=row["program_id"], goal_per_week=row["goal_per_week"],
            limit_speed_kmh=row["limit_speed_kmh"], limit_minutes=row["limit_minutes"],
            limit_incline_pct=row["limit_incline_pct"],
            rx_speed_kmh=row["rx_speed_kmh"] if row["rx_speed_kmh"] is not None else START_DOSE.speed_kmh,
            rx_minutes=row["rx_minutes"] if row["rx_minutes"] is not None else START_DOSE.minutes,
            rx_incline_pct=row["rx_incline_pct"] if row["rx_incline_pct"] is not None else START_DOSE.incline_pct,
            rx_rails=row["rx_rails"] or START_DOSE.rails, archived=bool(row["archived"]),
            created_at=row["created_at"] or "", updated_at=row["updated_at"] or "",
        )

    @property
    def caps(self) -> Caps | None:
        """The member's caps over the defaults; the core tightens the station's with them."""
        if self.cap_backward_speed_kmh is None and self.cap_forward_speed_kmh is None and self.cap_incline_pct is None:
            return None
        base = Caps()
        return Caps(
            backward_speed_kmh=self.cap_backward_speed_kmh or base.backward_speed_kmh,
            forward_speed_kmh=self.cap_forward_speed_kmh or base.forward_speed_kmh,
            backward_incline_pct=base.backward_incline_pct if self.cap_incline_pct is None else self.cap_incline_pct,
            forward_incline_pct=base.forward_incline_pct if self.cap_incline_pct is None else self.cap_incline_pct,
        )

    @property
    def dose(self) -> Dose:
        return Dose(self.rx_speed_kmh, self.rx_minutes, self.rx_incline_pct, self.rx_rails)

    @property
    def limits(self) -> Limits:
        return Limits(self.limit_speed_kmh, self.limit_minutes, self.limit_incline_pct)

    def core(self) -> Member:
        return Member(id=self.id, name=self.name, units=self.units, caps=self.caps,
                      hands_free_allowed=self.hands_free_allowed)

    def shown(self, speed_kmh: float | None) -> float | None:
        return None if speed_kmh is None else round(from_kmh(speed_kmh, self.units), 2)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and screens; speeds in the member's units (``speed_unit``)."""
        return {
            "id": self.id, "name": self.name, "code": self.code, "units": self.units,
            "speed_unit": unit_label(self.units),
            "hands_free_allowed": self.hands_free_allowed, "program_id": self.program_id,
            "goal_per_week": self.goal_per_week,
            "caps": {"backward_speed": self.shown(self.cap_backward_speed_kmh),
                     "forward_speed": self.shown(self.cap_forward_speed_kmh), "incline": self.cap_incline_pct},
            "limits": {"speed": self.shown(self.limit_speed_kmh), "minutes": self.limit_minutes,
                       "incline": self.limit_incline_pct},
            "prescription": {"speed": self.shown(self.rx_speed_kmh), "minutes": self.rx_minutes,
                             "incline": self.rx_incline_pct, "rails": self.rx_rails},
            "archived": self.archived, "created_at": self.created_at, "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class StoredSuggestion:
    """A suggestion as kept: the pure :class:`Suggestion`'s numbers and reasons, plus its decision."""

    id: int
    member_id: int
    session_id: int | None
    action: str
    what: str | None
    current: Dose
    next: Dose
    reasons: list[dict]                 # [{key, params, text}]
    text: str
    status: str                         # pending | accepted | overridden | superseded
    decided_by: str | None
    decided_at: str | None
    final: Dose | None
    created_at: str
    units: str = "mph"

    @classmethod
    def from_row(cls, row: dict, units: str) -> "StoredSuggestion":
        def dose(prefix: str) -> Dose | None:
            if row[f"{prefix}_speed_kmh"] is None:
                return None
            return Dose(row[f"{prefix}_speed_kmh"], row[f"{prefix}_minutes"], row[f"{prefix}_incline_pct"], row[f"{prefix}_rails"])

        return cls(id=row["id"], member_id=row["member_id"], session_id=row["session_id"], action=row["action"],
                   what=row["what"], current=dose("cur"), next=dose("next"), reasons=json.loads(row["reasons"] or "[]"),
                   text=row["text"], status=row["status"], decided_by=row["decided_by"], decided_at=row["decided_at"],
                   final=dose("final"), created_at=row["created_at"], units=units)

    def as_dict(self) -> dict[str, Any]:
        def shown(d: Dose | None) -> dict | None:
            if d is None:
                return None
            return {"speed": round(from_kmh(d.speed_kmh, self.units), 2), "minutes": d.minutes,
                    "incline": d.incline_pct, "rails": d.rails}

        return {"id": self.id, "member_id": self.member_id, "session_id": self.session_id, "action": self.action,
                "what": self.what, "units": self.units, "current": shown(self.current), "next": shown(self.next),
                "reasons": self.reasons, "text": self.text, "status": self.status, "decided_by": self.decided_by,
                "decided_at": self.decided_at, "final": shown(self.final), "created_at": self.created_at}


def _dose_columns(prefix: str, dose: Dose) -> dict[str, Any]:
    return {f"{prefix}_speed_kmh": dose.speed_kmh, f"{prefix}_minutes": dose.minutes,
            f"{prefix}_incline_pct": dose.incline_pct, f"{prefix}_rails": dose.rails}


# --- the store ------------------------------------------------------------------------------------------

#: Fields :meth:`Members.add` and :meth:`Members.update` take, with speeds in the member's units.
SPEED_FIELDS = {"max_speed": "cap_backward_speed_kmh", "max_forward_speed": "cap_forward_speed_kmh",
                "limit_speed": "limit_speed_kmh", "speed": "rx_speed_kmh"}
PLAIN_FIELDS = {"max_incline": "cap_incline_pct", "limit_minutes": "limit_minutes",
                "limit_incline": "limit_incline_pct", "minutes": "rx_minutes", "incline": "rx_incline_pct",
                "rails": "rx_rails", "goal": "goal_per_week", "program": "program_id", "code": "code",
                "name": "name", "units": "units", "hands_free": "hands_free_allowed", "archived": "archived"}


class Members:
    """Members on the store's database.

    :param store_or_db: a :class:`~app.shell.store.Store` or its sqlite-utils ``Database``.
    :param station_caps: the station's caps (config ``[safety]``); a member's caps and prescription
        are checked against them, since the station never sends more.
    """

    def __init__(self, store_or_db: Any, station_caps: Caps | None = None):
        self.db = _db(store_or_db)
        members_migrations.apply(self.db)
        self.history_db = History(self.db)
        self.station_caps = station_caps or Caps()

    # --- reading -----------------------------------------------------------------------------------

    def get(self, member_id: int) -> MemberRecord:
        rows = list(self.db.query("select * from members where id = ?", [member_id]))
        if not rows:
            raise MemberError(f"no member with id {member_id}; see 'backstep members list'")
        return MemberRecord.from_row(rows[0])

    def find(self, id_or_code: str | int) -> MemberRecord:
        """By id or by short code (case-insensitive)."""
        text = str(id_or_code).strip()
        rows = list(self.db.query("select * from members where code = ? collate nocase", [text]))
        if rows:
            return MemberRecord.from_row(rows[0])
        if text.isdigit():
            return self.get(int(text))
        raise MemberError(f"no member with id or code {text!r}; see 'backstep members list'")

    def list(self, include_archived: bool = False) -> list[MemberRecord]:
        where = "" if include_archived else "where coalesce(archived, 0) = 0"
        return [MemberRecord.from_row(r) for r in self.db.query(f"select * from members {where} order by name collate nocase, id")]

    def search(self, text: str) -> list[MemberRecord]:
        """Members whose code starts with *text* or whose name contains it (the home search field)."""
        text = text.strip()
        if not text:
            return self.list()
        rows = self.db.query(
            "select * from members where coalesce(archived, 0) = 0 and (code like :p escape '\\' or name like :c escape '\\')"
            " order by (code like :p escape '\\') desc, name collate nocase",
            {"p": _like(text) + "%", "c": "%" + _like(text) + "%"})
        return [MemberRecord.from_row(r) for r in rows]

    def core_members(self) -> list[Member]:
        """Every active member as the core's :class:`Member` (the home screen's tiles)."""
        return [m.core() for m in self.list()]

    def get_core_member(self, member_id: int) -> Member:
        return self.get(member_id).core()

    # --- writing -----------------------------------------------------------------------------------

    def add(self, name: str, **fields: Any) -> MemberRecord:
        """Create a member. *fields* as :data:`SPEED_FIELDS`/:data:`PLAIN_FIELDS`; speeds in *units*."""
        units = fields.get("units") or "mph"
        row = {"name": name, "units": units, "hands_free_allowed": 0, "archived": 0,
               **_dose_columns("rx", START_DOSE), "created_at": _now(), "updated_at": _now()}
        row.update(self._columns({**fields, "name": name, "units": units}, units))
        self._check(row)
        with self.db.atomic():
            member_id = self.db["members"].insert(row).last_pk
        return self.get(member_id)

    def update(self, member_id: int, **fields: Any) -> MemberRecord:
        """Change a member. ``None`` values are left alone; pass ``clear=[names]`` to unset fields."""
        current = self.get(member_id)
        clear = fields.pop("clear", ()) or ()
        units = fields.get("units") or current.units
        changes = self._columns(fields, units)
        for name in clear:
            column = SPEED_FIELDS.get(name) or PLAIN_FIELDS.get(name)
            if column is None or column in ("name", "units", "hands_free_allowed", "archived", "rx_rails"):
                raise MemberError(f"cannot clear {name!r}")
            changes[column] = None
        row = {**asdict_row(current), **changes}
        self._check(row)
        changes["updated_at"] = _now()
        with self.db.atomic():
            self.db["members"].update(member_id, changes)
        return self.get(member_id)

    def _columns(self, fields: dict[str, Any], units: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if value is None:
                continue
            if key in SPEED_FIELDS:
                out[SPEED_FIELDS[key]] = _speed(key, value, units)
            elif key in PLAIN_FIELDS:
                out[PLAIN_FIELDS[key]] = int(bool(value)) if key in ("hands_free", "archived") else value
            else:
                raise MemberError(f"unknown member field {key!r}")
        return out

    def _check(self, row: dict) -> None:
        """One line per kind of problem, the first found (the CLI shows it)."""
        name = (row.get("name") or "").strip()
        if not name or len(name) > MAX_NAME:
            raise MemberError(f"name: give a display name or pseudonym of 1 to {MAX_NAME} characters")
        row["name"] = name
        if row.get("units") not in UNITS:
            raise MemberError(f"units: {row.get('units')!r} is not a unit; use mph or kmh")
        code = row.get("code")
        if code is not None:
            if not CODE_PATTERN.match(str(code)):
                raise MemberError(f"code: {code!r} is not allowed; use 1 to 12 letters, digits or '-', e.g. K7")
            clash = list(self.db.query("select id from members where code = ? collate nocase and id != ?",
                                       [code, row.get("id") or -1]))
            if clash:
                raise MemberError(f"code: {code!r} is already used by member {clash[0]['id']}; pick another")
        units = row["units"]
        caps = self.station_caps
        for column, top, what in (("cap_backward_speed_kmh", caps.backward_speed_kmh, "backward speed cap"),
                                  ("cap_forward_speed_kmh", caps.forward_speed_kmh, "forward speed cap"),
                                  ("limit_speed_kmh", caps.backward_speed_kmh, "speed limit"),
                                  ("rx_speed_kmh", caps.backward_speed_kmh, "prescribed speed")):
            value = row.get(column)
            if value is not None and not 0 < value <= top + 1e-6:
                raise MemberError(f"{what}: {from_kmh(value, units):.1f} {unit_label(units)} is outside the station's "
                                  f"caps; use above 0 and at most {from_kmh(top, units):.1f} {unit_label(units)}")
        for column, what in (("cap_incline_pct", "incline cap"), ("limit_incline_pct", "incline limit"),
                             ("rx_incline_pct", "prescribed incline")):
            value = row.get(column)
            if value is not None and not 0 <= value <= caps.backward_incline_pct + 1e-6:
                raise MemberError(f"{what}: {value:g} % is outside the station's caps; use 0 to {caps.backward_incline_pct:g} %")
        for column, what in (("limit_minutes", "minutes limit"), ("rx_minutes", "prescribed minutes")):
            value = row.get(column)
            if value is not None and not MIN_MINUTES <= value <= MAX_MINUTES:
                raise MemberError(f"{what}: {value:g} is not allowed; use 1 to {MAX_MINUTES:g} minutes")
        if row.get("rx_rails") not in ("required", "optional"):
            raise MemberError(f"rails: {row.get('rx_rails')!r} is not allowed; use required or optional")
        goal = row.get("goal_per_week")
        if goal is not None and not (isinstance(goal, int) and 1 <= goal <= MAX_GOAL_PER_WEEK):
            raise MemberError(f"goal: {goal!r} is not allowed; use a whole number of sessions per week, 1 to {MAX_GOAL_PER_WEEK}")
        program = row.get("program_id")
        if program is not None and not re.match(r"^[a-z0-9][a-z0-9-]*$", str(program)):
            raise MemberError(f"program: {program!r} is not a program id; see 'backstep programs list'")
        # The prescription must fit inside the member's own caps and the therapist's limits.
        for rx, cap, label in (("rx_speed_kmh", "cap_backward_speed_kmh", "backward speed cap"),
                               ("rx_speed_kmh", "limit_speed_kmh", "speed limit"),
                               ("rx_minutes", "limit_minutes", "minutes limit"),
                               ("rx_incline_pct", "cap_incline_pct", "incline cap"),
                               ("rx_incline_pct", "limit_incline_pct", "incline limit")):
            if row.get(rx) is not None and row.get(cap) is not None and row[rx] > row[cap] + 1e-6:
                shown = (lambda v: f"{from_kmh(v, units):.1f} {unit_label(units)}") if rx == "rx_speed_kmh" else (lambda v: f"{v:g}")
                raise MemberError(f"prescription: {shown(row[rx])} is above the member's {label} ({shown(row[cap])}); "
                                  f"lower the prescription or raise the {label}")

    # --- programs -----------------------------------------------------------------------------------

    def prescription_program(self, member_id: int) -> Program:
        """The member's prescription as a validated program (warm-up, then the main phase)."""
        member = self.get(member_id)
        caps = self.station_caps.tightened(member.caps)
        program, problems = prescription_program(member.dose, member_id=member.id, member_name=member.name,
                                                 units=member.units, caps=caps)
        if program is None:
            raise MemberError(f"member {member.id}'s prescription cannot run: " + "; ".join(str(p) for p in problems if p.severity == "error"))
        return program

    def program_for(self, member_id: int, library: Any = None) -> Program:
        """What the member walks: the prescribed library program if one is set and found, else the
        prescription."""
        member = self.get(member_id)
        if member.program_id and library is not None:
            program = library.get(member.program_id)
            if program is not None:
                return program
        return self.prescription_program(member_id)

    # --- history and suggestions --------------------------------------------------------------------

    def history(self, member_id: int, weeks: int | None = None) -> MemberHistory:
        member = self.get(member_id)
        return self.history_db.member_history(member.id, units=member.units, goal_per_week=member.goal_per_week, weeks=weeks)

    def last_raised(self, member_id: int) -> str | None:
        rows = list(self.db.query(
            "select raised from suggestions where member_id = ? and status in ('accepted', 'overridden') order by id desc limit 1",
            [member_id]))
        return rows[0]["raised"] if rows else None

    def compute_suggestion(self, member_id: int) -> Suggestion:
        """The pure suggestion for the next session, from the last sessions (nothing stored)."""
        member = self.get(member_id)
        caps = self.station_caps.tightened(member.caps)
        return suggest(member.dose, self.history_db.outcomes(member.id), member.limits, units=member.units,
                       caps=caps, last_raised=self.last_raised(member.id))

    def suggestion(self, member_id: int) -> StoredSuggestion:
        """The current suggestion, kept: fixed once decided, recomputed while pending."""
        member = self.get(member_id)
        fresh = self.compute_suggestion(member_id)
        session_id = fresh.based_on_session
        if session_id is None:
            # The last session was walked at another of the clinic's stations (docs/hub.md): the
            # suggestion is kept under this station's own last session, recomputed while pending.
            session_id = self.db.execute("select max(id) from sessions where member_id = ?", [member_id]).fetchone()[0]
        rows = list(self.db.query(
            "select * from suggestions where member_id = ? and session_id is ? order by id desc limit 1",
            [member_id, session_id]))
        values = {
            "action": fresh.action, "what": fresh.what, **_dose_columns("cur", fresh.current),
            **_dose_columns("next", fresh.next), "reasons": json.dumps([r.as_dict() for r in fresh.reasons]),
            "text": fresh.text, "updated_at": _now(),
        }
        with self.db.atomic():
            if rows and rows[0]["status"] != "pending":
                return StoredSuggestion.from_row(rows[0], member.units)
            self.db.execute("update suggestions set status = 'superseded' where member_id = ? and status = 'pending' "
                            "and session_id is not ?", [member_id, session_id])
            if rows:
                self.db["suggestions"].update(rows[0]["id"], values)
                suggestion_id = rows[0]["id"]
            else:
                suggestion_id = self.db["suggestions"].insert({
                    "member_id": member_id, "session_id": session_id, "created_at": _now(), "status": "pending",
                    **values}).last_pk
        return self.get_suggestion(suggestion_id)

    def get_suggestion(self, suggestion_id: int) -> StoredSuggestion:
        rows = list(self.db.query("select s.*, m.units from suggestions s join members m on m.id = s.member_id where s.id = ?", [suggestion_id]))
        if not rows:
            raise MemberError(f"no suggestion {suggestion_id}")
        return StoredSuggestion.from_row(rows[0], rows[0]["units"])

    def suggestions(self, member_id: int) -> list[StoredSuggestion]:
        units = self.get(member_id).units
        return [StoredSuggestion.from_row(r, units) for r in self.db.query("select * from suggestions where member_id = ? order by id", [member_id])]

    def accept(self, member_id: int, by: str) -> StoredSuggestion:
        """The therapist accepts the current suggestion: it becomes the prescription."""
        current = self.suggestion(member_id)
        self._decide(current, "accepted", by, current.next)
        return self.get_suggestion(current.id)

    def override(self, member_id: int, by: str, *, speed: float | None = None, minutes: float | None = None,
                 incline: float | None = None, rails: str | None = None) -> StoredSuggestion:
        """The therapist sets the next dose by hand (speed in the member's units). Still checked
        against the caps and the therapist's own limits."""
        member = self.get(member_id)
        current = self.suggestion(member_id)
        final = current.next
        if speed is not None:
            final = replace(final, speed_kmh=_speed("speed", speed, member.units))
        if minutes is not None:
            final = replace(final, minutes=float(minutes))
        if incline is not None:
            final = replace(final, incline_pct=float(incline))
        if rails is not None:
            final = replace(final, rails=rails)
        if speed is None and minutes is None and incline is None and rails is None:
            raise MemberError("override: give at least one of speed=, minutes=, incline=, rails= (or use --accept)")
        self._decide(current, "overridden", by, final)
        return self.get_suggestion(current.id)

    def _decide(self, current: StoredSuggestion, status: str, by: str, final: Dose) -> None:
        if current.status not in ("pending",):
            raise MemberError(f"the suggestion after session {current.session_id} was already {current.status} "
                              f"by {current.decided_by} at {current.decided_at}; it applies until the next session")
        by = (by or "").strip()
        if not by:
            raise MemberError("say who decides: add --by NAME (kept with the decision)")
        member = self.get(current.member_id)
        row = {**asdict_row(member), **_dose_columns("rx", final)}
        self._check(row)
        raised = [t for t in THINGS if final.value(t) > current.current.value(t) + 1e-6]
        with self.db.atomic():
            self.db["suggestions"].update(current.id, {
                "status": status, "decided_by": by, "decided_at": _now(), **_dose_columns("final", final),
                "raised": raised[0] if len(raised) == 1 else None, "updated_at": _now()})
            self.db["members"].update(member.id, {**_dose_columns("rx", final), "updated_at": _now()})


def asdict_row(member: MemberRecord) -> dict[str, Any]:
    row = asdict(member)
    row["hands_free_allowed"] = int(member.hands_free_allowed)
    row["archived"] = int(member.archived)
    return row


def _speed(name: str, value: Any, units: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MemberError(f"{name}: {value!r} is not a number") from None
    if number != number or number <= 0:
        raise MemberError(f"{name}: {value!r} must be a speed above 0 in {unit_label(units)}")
    return to_kmh(number, units)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


__all__ = ["Members", "MemberRecord", "StoredSuggestion", "MemberError", "START_DOSE", "format_dose"]
