"""One rule for reading a number a person typed, wherever text is parsed.

Simulation scripts (``95 link lost``), their ``score`` lines and the sim-control socket all read
numbers from text. Python's ``float()`` and ``int()`` are too generous for that: they take ``1_0``,
Arabic-Indic and other Unicode digits, ``1e308``, ``inf`` and ``nan``, and their error messages are
Python's, not the user's. The rule here, the same everywhere:

- ASCII digits only, with an optional fraction (``95``, ``0.5``, ``.5``, ``95.``); no sign, no
  exponent, no ``_`` separators, no ``inf``/``nan``;
- whitespace around it (spaces, tabs, any Unicode space) is ignored, and so is a leading UTF-8
  byte-order mark (Windows editors write one at the start of a file);
- the value is bounded: a caller names the largest value it accepts, so nothing that follows
  (a clock, a sleep, an SQLite column) ever sees an absurd or non-finite number.

Pure: no I/O. A bad number raises :class:`NumberError` (a ``ValueError``) with a short message that
quotes at most :data:`ECHO_CHARS` characters of what was typed.
"""

from __future__ import annotations

import re

#: ASCII digits with an optional fraction; ``re.ASCII`` keeps ``\d`` from matching other scripts'
#: digits (they are spelled out anyway, to be plain).
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
#: More digits than any bounded value here needs; longer text is refused before conversion, so a
#: 100,000-digit "number" costs nothing.
_MAX_DIGITS = 30

#: An echoed value is cut to this many characters, so one bad line stays one short line.
ECHO_CHARS = 40

BOM = "\ufeff"


class NumberError(ValueError):
    """A text that is not an acceptable number; ``str()`` is a one-line reason."""


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """*value* quoted for an error message: ``repr`` (so control characters show escaped), cut to
    about *limit* characters with ``...`` when longer."""
    text = value if isinstance(value, str) else str(value)
    # Cut what is shown, not what was sent: one escaped character can take ten (``\U0001123f``).
    shown = repr(text[: limit + 1])
    if len(text) > limit or len(shown) > limit + 2:
        return shown[:limit] + "..."
    return shown


def _clean(text: str) -> str:
    text = text.strip()
    if text.startswith(BOM):
        text = text[1:].strip()
    return text


def parse_decimal(text: str, *, maximum: float, what: str = "a number") -> float:
    """*text* as a non-negative decimal number at most *maximum*.

    :raises NumberError: when *text* is not digits with an optional fraction, or is above *maximum*.
    """
    cleaned = _clean(text)
    if not _DECIMAL.fullmatch(cleaned) or len(cleaned) > _MAX_DIGITS:
        raise NumberError(f"{echo(cleaned)} is not {what}; write digits 0-9 with an optional fraction, e.g. 95 or 0.5")
    value = float(cleaned)
    if value > maximum:
        raise NumberError(f"{echo(cleaned)} is too large for {what}; the most allowed is {maximum:g}")
    return value


def parse_whole(text: str, *, minimum: int, maximum: int, what: str = "a whole number") -> int:
    """*text* as a whole number from *minimum* to *maximum*.

    :raises NumberError: when *text* is not plain digits or lies outside the range.
    """
    cleaned = _clean(text)
    if not _WHOLE.fullmatch(cleaned) or len(cleaned) > _MAX_DIGITS:
        raise NumberError(f"{echo(cleaned)} is not {what}; write a whole number {minimum}-{maximum}")
    value = int(cleaned)
    if not minimum <= value <= maximum:
        raise NumberError(f"{echo(cleaned)} is out of range for {what}; write a whole number {minimum}-{maximum}")
    return value
