"""A session's samples into samples.csv, backstep.jsonl and the TCX track, two ways, same bytes.

:func:`write_rows` is the straightforward path: one row at a time through ``csv.writer``, the JSON
encoder and :meth:`.tcx.Track.point`. It handles anything (NULL times, markup, non-ASCII, line
separators, inf). :func:`fast_outputs` formats a whole chunk of rows with string templates, one
join per output, and is used only for rows that pass a check that makes the templates exact
(plain ASCII times and modes, numbers or NULL, nothing infinite); other chunks take the
straightforward path. ``tests/test_export_speed.py`` compares both on tricky data byte for byte.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Sequence

from .. import export_formats as fmt

#: Times and modes the templates can write as they are: no quoting in CSV, no escaping in JSON or
#: XML, and no letters that could spell ``None``/``inf``/``nan`` (times: digits and ``T:.+-``).
_PLAIN_TIMES = re.compile(r"[0-9T:.+\-]*")
_PLAIN_MODES = re.compile(r"[a-z_]*")
_NUMBERS = frozenset({int, float, type(None)})
_NUMERIC_COLUMNS = (0, 3, 4, 5, 6, 7, 8, 9)


_CSV_ROW = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\r\n"
_JSON_ROW = ('{"type":"sample","session_id":%s,"t":%%s,"at":"%%s","mode":"%%s","phase_idx":%%s,'
             '"target_speed_kmh":%%s,"actual_speed_kmh":%%s,"incline_pct":%%s,"rails_held":%%s,'
             '"lanyard_clipped":%%s,"distance_m":%%s}\n')


def fast_outputs(session_id: int, rows: Sequence[tuple]) -> tuple[str, str, list[tuple]] | None:
    """``(samples.csv text, backstep.jsonl text, columns)`` for *rows*, or None when a row needs
    the straightforward path. *rows*: ``(t, at, mode, phase_idx, target_speed_kmh,
    actual_speed_kmh, incline_pct, rails_held, lanyard_clipped, distance_m)`` tuples.

    Each output is one ``%`` format of a repeated row template over all the values at once: ``%s``
    writes numbers as ``csv.writer`` and the JSON encoder do (``repr``), and a NULL as ``None``,
    which is then replaced (times and modes hold no capital N)."""
    if type(session_id) is not int or not rows:
        return None
    columns = list(zip(*rows))
    try:
        if not (_PLAIN_TIMES.fullmatch("".join(columns[1])) and _PLAIN_MODES.fullmatch("".join(set(columns[2])))):
            return None
    except TypeError:  # a NULL time or mode
        return None
    nulls = False
    for index in _NUMERIC_COLUMNS:
        if not _NUMBERS.issuperset(map(type, columns[index])):
            return None
        nulls = nulls or None in columns[index]
    # Each number is turned into text once (repr, as csv.writer and the JSON encoder write it).
    values = tuple(map(str, chain.from_iterable(rows)))
    csv_text = ((f"{session_id}," + _CSV_ROW) * len(rows)) % values
    if "inf" in csv_text or "nan" in csv_text:  # JSON writes Infinity, CSV inf: leave it to the encoders
        return None
    jsonl_text = ((_JSON_ROW % session_id) * len(rows)) % values
    if nulls:
        csv_text, jsonl_text = csv_text.replace("None", ""), jsonl_text.replace("None", "null")
    return csv_text, jsonl_text, columns


def write_rows(session_id: int, rows: Sequence[tuple], samples_csv, jsonl, track, dumps) -> None:
    """The straightforward path: each row through the CSV writer, the JSON encoder and the track."""
    for row in rows:
        values = (session_id, *row)
        samples_csv.plain_row(values)
        jsonl.write(dumps({"type": "sample", **dict(zip(fmt.SAMPLE_COLUMNS, values))}) + "\n")
        track.point(row[1], row[2], row[3], row[4], row[5], row[9])
