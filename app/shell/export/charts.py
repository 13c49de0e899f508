"""One PNG of history charts per member with a session in the export (``charts/``).

The charts are drawn by a renderer the caller passes (app.shell cannot import pygame; the commands
pass :func:`app.commands.export.chart_png`, built on app.ui.charts) from the member's history, as
:mod:`app.shell.history` reads it: the statistics every other figure of the export comes from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from typing import Any, Callable

from sqlite_utils import Database

from ... import __version__
from .. import export_formats as fmt
from ..history import History
from .stick import Folder

log = logging.getLogger(__name__)

#: ``(history, title) -> PNG bytes``: draws one member's history charts. *title* is the member's
#: name, or their pseudonym when the export pseudonymizes.
ChartRenderer = Callable[[Any, str], bytes]
#: The folder under the station's export folder that holds one PNG per member.
CHARTS_FOLDER = "charts"


def backfill_stats(conn: sqlite3.Connection) -> History | None:
    """Per-session stats for sessions closed before stats were kept (a derived table only; the
    sessions themselves are not changed). Runs outside the read snapshot: it writes. Returns the
    history to draw charts from, or None when the stats could not be completed."""
    try:
        history = History(Database(conn))
        history.backfill()
    except sqlite3.Error as exc:
        log.warning("export: could not complete the session stats: %s", exc)
        return None
    return history


def fingerprint(history: Any, title: str, file: str) -> str:
    """What a chart is drawn from: the member's history (to today's week), its title and file, and
    the Backstep version (whose drawing may differ)."""
    text = json.dumps([__version__, title, file, history.as_dict()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def write_charts(conn: sqlite3.Connection, history: History, render: ChartRenderer, station: Folder,
                 folders: list[Folder], session_ids: list[int], new, pseudonym_of: Callable[[Any, str], str] | None,
                 stick_id: str) -> tuple[Folder | None, dict[int, tuple[str, str]]]:
    """Draw and write the charts (under temporary names, like every file). Returns their folder and
    ``{member_id: (file, fingerprint)}`` to remember once the export is committed.

    A chart whose fingerprint matches the one this stick got last time, and whose file is still on
    the stick, is not drawn again.

    :param pseudonym_of: ``(member_id, name) -> pseudonym`` when the export pseudonymizes."""
    marks = ",".join("?" * len(session_ids))
    rows = conn.execute(f"select member_id, max(member_name) from sessions where id in ({marks}) "
                        f"and member_id is not null group by member_id order by member_id", session_ids).fetchall()
    if not rows:
        return None, {}
    has_members = conn.execute("select 1 from sqlite_master where type='table' and name='members'").fetchone()
    folder = station.child(CHARTS_FOLDER, create=True)
    folders.append(folder)
    drawn_before = {member_id: (file, print_) for member_id, file, print_ in conn.execute(
        "select member_id, file, fingerprint from export_charts where stick_id = ?", (stick_id,))}
    drawn: dict[int, tuple[str, str]] = {}
    for member_id, name in rows:
        units, goal = "mph", None
        if has_members:
            member = conn.execute("select name, units, goal_per_week from members where id = ?", (member_id,)).fetchone()
            if member is not None:
                name, units, goal = member[0] or name, member[1] or units, member[2]
        if pseudonym_of is not None:
            title = file_stem = pseudonym_of(member_id, name)
        else:
            title, file_stem = name or f"member {member_id}", f"member-{member_id}"
        name_on_stick = fmt.fat_safe(file_stem, fallback=f"member-{member_id}") + ".png"
        relative = f"{CHARTS_FOLDER}/{name_on_stick}"
        member_history = history.member_history(member_id, units=units, goal_per_week=goal, backfill=False)
        print_ = fingerprint(member_history, title, relative)
        if drawn_before.get(member_id) == (relative, print_) and folder.exists(name_on_stick):
            continue  # the same chart is on the stick already
        try:
            png = render(member_history, title)
        except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn must not stop the logs
            log.warning("export: no chart for member %s: %s", member_id, exc)
            continue
        new(folder, name_on_stick, relative).write_bytes(png)
        drawn[member_id] = (relative, print_)
    return folder, drawn


def remember_charts(db: Database, stick_id: str, drawn: dict[int, tuple[str, str]], exported_at: str) -> None:
    """After the commit: which chart each member's file on this stick was drawn from."""
    db["export_charts"].insert_all(({"stick_id": stick_id, "member_id": member_id, "file": file, "fingerprint": print_,
                                     "exported_at": exported_at} for member_id, (file, print_) in drawn.items()),
                                   replace=True)
