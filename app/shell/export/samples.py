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
from math import copysign
from typing import Iterable, Sequence

from .. import export_formats as fmt

#: Times and modes the templates can write as they are: no quoting in CSV, no escaping in JSON or
#: XML, and no letters that could spell ``None``/``inf``/``nan`` (times: digits and ``T:.+-``).
_PLAIN_TIMES = re.compile(r"[0-9T:.+\-]*")
_PLAIN_MODES = re.compile(r"[a-z_]*")
_NUMBERS = frozenset({int, float, type(None)})
_NUMERIC_COLUMNS = (0, 3, 4, 5, 6, 7, 8, 9)
#: Columns whose values repeat (time, phase, speeds, incline, rails, lanyard; not the distance):
#: their text is looked up instead of formatted again, which halves the cost of ``str``.
_REPEATING_COLUMNS = frozenset({0, 3, 4, 5, 6, 7, 8})
_CACHE_MAX = 4096


class _Texts(dict):
    """``str(value)`` by value, for one column and one type (1, 1.0 and True are equal keys)."""

    def __missing__(self, value):
        text = self[value] = str(value)
        return text


_texts: dict[tuple[int, type], _Texts] = {}


def _column_texts(index: int, column: tuple, kinds: set) -> Iterable[str]:
    """The text of each value of a numeric *column*, as ``str`` writes it. A cached text is used
    only where equal values have equal text: one type per column (besides NULL), and no -0.0
    (equal to 0.0, written ``-0.0``)."""
    kinds = kinds - {type(None)}
    if index not in _REPEATING_COLUMNS or len(kinds) != 1:
        return map(str, column)
    kind = kinds.pop()
    if kind is float and 0.0 in column and any(copysign(1.0, v) < 0 for v in column if v == 0.0):
        return map(str, column)
    texts = _texts.get((index, kind))
    if texts is None or len(texts) > _CACHE_MAX:  # bounded: a long or odd session must not grow it
        texts = _texts[index, kind] = _Texts()
    return map(texts.__getitem__, column)


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
    texts: list[Iterable[str]] = list(columns)  # times and modes are text already
    for index in _NUMERIC_COLUMNS:
        kinds = set(map(type, columns[index]))
        if not _NUMBERS.issuperset(kinds):
            return None
        nulls = nulls or type(None) in kinds
        texts[index] = _column_texts(index, columns[index], kinds)
    # Each number is turned into text once (repr, as csv.writer and the JSON encoder write it).
    values = tuple(chain.from_iterable(zip(*texts)))
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
