"""A streaming TCX (Garmin Training Center Database v2) writer for one session.

Written as text to a sink (``write(str)``) a track point at a time, so a long session never sits in
memory. The element order follows ``TrainingCenterDatabasev2.xsd`` exactly (the tests validate every
file against it): Activity(Id, Lap+, Notes), Lap(TotalTimeSeconds, DistanceMeters, MaximumSpeed?,
Calories, Intensity, TriggerMethod, Track?, Notes?), Trackpoint(Time, DistanceMeters?).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: XML 1.0 cannot carry most control characters at all, even escaped: drop them from free text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def text(value: object) -> str:
    return escape(_NOT_XML.sub("", str(value)))


def number(value: float) -> str:
    """xsd:double without exponent noise: ``12.3``, ``0``."""
    if value != value or value in (float("inf"), float("-inf")):  # NaN/inf are not useful in a log
        return "0"
    rounded = round(float(value), 3)
    return f"{rounded:.3f}".rstrip("0").rstrip(".") or "0"


@dataclass
class Lap:
    """One program phase as a TCX lap. *seconds* and *meters* are the lap totals."""

    start_time: str
    seconds: float
    meters: float
    max_speed_ms: float | None = None
    notes: str = ""


class TcxWriter:
    """Write one activity: :meth:`start`, then per lap :meth:`lap` and :meth:`point`, then :meth:`end`."""

    def __init__(self, write: Callable[[str], object]):
        self._write = write
        self._in_lap = False
        self._in_track = False
        self._lap_notes = ""
        self.laps = 0
        self.points = 0

    def start(self, activity_id: str) -> None:
        self._write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<TrainingCenterDatabase xmlns="{NS}" xmlns:xsi="{_XSI}" '
            f'xsi:schemaLocation="{NS} http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd">\n'
            ' <Activities>\n'
            '  <Activity Sport="Other">\n'
            f'   <Id>{text(activity_id)}</Id>\n'
        )

    def lap(self, lap: Lap) -> None:
        self._close_lap()
        parts = [
            f'   <Lap StartTime={quoteattr(_NOT_XML.sub("", lap.start_time))}>\n',
            f'    <TotalTimeSeconds>{number(max(lap.seconds, 0.0))}</TotalTimeSeconds>\n',
            f'    <DistanceMeters>{number(max(lap.meters, 0.0))}</DistanceMeters>\n',
        ]
        if lap.max_speed_ms is not None:
            parts.append(f'    <MaximumSpeed>{number(max(lap.max_speed_ms, 0.0))}</MaximumSpeed>\n')
        # Calories 0: the station does not know the walker's weight; 0 is what TCX tools read as "unknown".
        parts.append('    <Calories>0</Calories>\n    <Intensity>Active</Intensity>\n'
                     '    <TriggerMethod>Manual</TriggerMethod>\n')
        self._write("".join(parts))
        self._in_lap = True
        self._lap_notes = lap.notes
        self.laps += 1

    def point(self, time: str, distance_m: float | None) -> None:
        if not self._in_lap:
            raise ValueError("a track point needs a lap first")
        if not self._in_track:
            self._write("    <Track>\n")
            self._in_track = True
        distance = "" if distance_m is None else f"<DistanceMeters>{number(distance_m)}</DistanceMeters>"
        self._write(f"     <Trackpoint><Time>{text(time)}</Time>{distance}</Trackpoint>\n")
        self.points += 1

    def points_text(self, text: str, count: int) -> None:
        """*count* track points already formatted as :meth:`point` would write them (the export's
        fast path formats a session's points in one go)."""
        if not count:
            return
        if not self._in_lap:
            raise ValueError("a track point needs a lap first")
        if not self._in_track:
            self._write("    <Track>\n")
            self._in_track = True
        self._write(text)
        self.points += count

    def end(self, notes: str = "") -> None:
        self._close_lap()
        if not self.laps:
            raise ValueError("a TCX activity needs at least one lap")
        note = f"   <Notes>{text(notes)}</Notes>\n" if notes else ""
        self._write(f"{note}  </Activity>\n </Activities>\n</TrainingCenterDatabase>\n")

    def _close_lap(self) -> None:
        if self._in_track:
            self._write("    </Track>\n")
            self._in_track = False
        if self._in_lap:
            if self._lap_notes:
                self._write(f"    <Notes>{text(self._lap_notes)}</Notes>\n")
            self._write("   </Lap>\n")
            self._in_lap = False
