"""One TCX file per session: laps planned from the session's figures, then a track point per sample.

TCX puts a lap's totals before its track points, so the laps are planned first from the
per-phase figures the session's statistics keep (:mod:`.metrics`): lap times add up to the
session's active seconds and lap distances to its distance, the same figures as sessions.csv.
The XML itself is written by :class:`app.shell.tcx.TcxWriter` (the schema's element order).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate, chain, groupby
from typing import Callable, Sequence

from ...core.rail_stats import SAMPLE_INTERVAL_S, number, split_seconds, walking_speed
from ..tcx import Lap, TcxWriter


#: A track point as :meth:`app.shell.tcx.TcxWriter.point` writes it (the distance's text given).
_POINT = "     <Trackpoint><Time>%s</Time><DistanceMeters>%s</DistanceMeters></Trackpoint>\n"


def distance_texts(distances: Sequence[float]) -> list[str]:
    """Each distance with three decimals, ``number()``'s trailing zeros stripped (``12.300`` ->
    ``12.3``, ``10.000`` -> ``10``): all formatted into one string, each ended by ``|``, then three
    passes of ``str.replace`` over that short string (two zeros, then one, then a bare point:
    each pass can only reach the fraction). One text more than *distances*: an empty last one."""
    text = ("%.3f|" * len(distances)) % tuple(distances)
    return text.replace("00|", "|").replace("0|", "|").replace(".|", "|").split("|")


@dataclass
class LapPlan:
    key: int | None
    start_time: str
    seconds: float
    meters: float
    max_speed_ms: float | None
    notes: str

    def lap(self) -> Lap:
        return Lap(start_time=self.start_time, seconds=self.seconds, meters=self.meters,
                   max_speed_ms=self.max_speed_ms, notes=self.notes)


def plan_laps(session: dict, phases: list[dict], figures: list[dict], measured: bool, distance) -> list[LapPlan]:
    """One lap per phase that has samples (samples without a phase join the first lap)."""
    by_idx: dict = {}
    for phase in phases:
        by_idx.setdefault(phase["idx"], phase)
    groups = [dict(f) for f in figures if f["phase_idx"] is not None]
    loose = [f for f in figures if f["phase_idx"] is None]
    if loose and groups:
        first, extra = groups[0], loose[0]
        first["walking_seconds"] += extra["walking_seconds"]
        first["estimated_m"] += extra["estimated_m"]
        first["max_speed_kmh"] = max([v for v in (first["max_speed_kmh"], extra["max_speed_kmh"]) if v is not None],
                                     default=None)
    elif loose:
        groups = [dict(f) for f in loose]
    if not groups:  # a session that never produced a sample still needs one (empty) lap
        return [LapPlan(key=None, start_time=session["started_at"], seconds=0.0, meters=0.0, max_speed_ms=None,
                        notes="no samples were recorded")]
    seconds = split_seconds([g["walking_seconds"] for g in groups], session["active_seconds"])
    laps: list[LapPlan] = []
    previous_end = 0.0
    for n, group in enumerate(groups):
        phase = by_idx.get(group["phase_idx"], {})
        start = phase.get("started_at") or group["first_at"] or session["started_at"]
        last = n == len(groups) - 1
        if measured:
            end = max(previous_end, float(group["max_distance_m"])) if group["max_distance_m"] is not None else previous_end
            if last and distance is not None:
                end = max(end, float(distance))  # the distance stored at the close, after the last sample
            meters, previous_end = end - previous_end, end
        else:
            meters = group["estimated_m"]
        laps.append(LapPlan(
            key=group["phase_idx"], start_time=start, seconds=seconds[n], meters=meters,
            max_speed_ms=group["max_speed_kmh"] / 3.6 if group["max_speed_kmh"] is not None else None,
            notes=lap_notes(phase, group["phase_idx"]),
        ))
    return laps


def lap_notes(phase: dict, idx) -> str:
    if not phase:
        return f"phase {idx + 1}" if isinstance(idx, int) else ""
    parts = [f"phase {phase['idx'] + 1}" if isinstance(phase.get("idx"), int) else "phase"]
    if phase.get("name"):
        parts[0] += f" {phase['name']}"
    if phase.get("round_label"):
        parts.append(str(phase["round_label"]))
    if phase.get("direction"):
        parts.append(str(phase["direction"]))
    if phase.get("target_speed_kmh") is not None:
        parts.append(f"{phase['target_speed_kmh']:g} km/h")
    if phase.get("incline_pct") is not None:
        parts.append(f"incline {phase['incline_pct']:g} %")
    if phase.get("rails"):
        parts.append(f"rails {phase['rails']}")
    return ", ".join(parts)


def activity_notes(session: dict, member: str, summary: dict) -> str:
    s = session
    parts = [f"Backward walking on Backstep station {s['station_id']}, session {s['id']}",
             f"program {s['program_name']} ({s['program_id']})", f"member {member}",
             f"status {s['status']}" + (f" ({s['stop_reason']})" if s["stop_reason"] else "")]
    if s["pain_before"] is not None or s["pain_after"] is not None:
        parts.append(f"pain {s['pain_before'] if s['pain_before'] is not None else '-'} -> "
                     f"{s['pain_after'] if s['pain_after'] is not None else '-'} (0-10)")
    if summary["hands_free_percent"] is not None:
        parts.append(f"hands-free {summary['hands_free_percent']:g} % of walking time")
    parts.append(f"{summary['pauses']} pause(s), {summary['emergency_stops']} emergency stop(s)")
    if summary["distance_source"] == "estimated":
        parts.append("distance estimated from the set speed")
    return "; ".join(parts)


class Track:
    """The activity of one session, a track point per sample, laps opened as phases come.

    A sample goes into its phase's lap; one that would go backwards in the file (a phase index
    seen again) stays in the current lap, so the XML stays valid. The distance of a point is the
    treadmill's reading when it measures, else the walking seconds' belt speed summed (as the
    statistics estimate it)."""

    def __init__(self, write: Callable[[str], object], started_at: str, laps: list[LapPlan], measured: bool):
        self.writer = TcxWriter(write)
        self.laps = laps
        self.measured = measured
        self.lap_index = {lap.key: i for i, lap in enumerate(laps)}
        self.current = 0
        self.cumulative = 0.0
        self.writer.start(started_at)
        self.writer.lap(laps[0].lap())

    def point(self, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, distance_m) -> None:
        target = self.lap_index.get(phase_idx, self.current)
        while self.current < target:
            self.current += 1
            self.writer.lap(self.laps[self.current].lap())
        if self.measured:
            distance_m = number(distance_m)
            if distance_m is not None:
                self.cumulative = float(distance_m)
        else:
            speed = walking_speed(mode, target_speed_kmh, actual_speed_kmh)  # as the statistics count it
            if speed is not None:
                self.cumulative += speed / 3.6 * SAMPLE_INTERVAL_S
        self.writer.point(at, self.cumulative)

    def points_fast(self, rows: Sequence[tuple], columns: list[tuple]) -> None:
        """:meth:`point` for many sample rows ``(t, at, mode, phase_idx, target, actual, incline,
        rails, lanyard, distance)`` at once, the same bytes: only for rows whose ``at`` needs no
        escaping and whose numbers are finite (:func:`.samples.fast_outputs` checks; *columns*
        are the rows transposed). Distances are summed with ``accumulate`` in the same order as
        :meth:`point` adds them, and formatted in one ``%`` per lap."""
        ats, modes, phases, targets, actuals, readings = (columns[i] for i in (1, 2, 3, 4, 5, 9))
        if self.measured:
            if None in readings:
                distances = []
                cumulative = self.cumulative
                for reading in readings:
                    if reading is not None:
                        cumulative = float(reading)
                    distances.append(cumulative)
            else:
                distances = readings
        else:
            steps = [((actual if actual is not None else target) / 3.6 * SAMPLE_INTERVAL_S)
                     if mode == "running" and target and target > 0 else 0.0  # walking_speed, inlined
                     for mode, target, actual in zip(modes, targets, actuals)]
            distances = list(accumulate(steps, initial=self.cumulative))[1:]
        self.cumulative = float(distances[-1]) if distances else self.cumulative
        done = 0
        position = 0
        for phase_idx, run in groupby(phases):
            target = self.lap_index.get(phase_idx, self.current)
            if target > self.current:
                self._points(ats, distances, done, position)
                done = position
                while self.current < target:
                    self.current += 1
                    self.writer.lap(self.laps[self.current].lap())
            position += len(list(run))
        self._points(ats, distances, done, position)

    def _points(self, ats, distances, start: int, stop: int) -> None:
        if stop > start:
            texts = distance_texts(distances[start:stop])
            text = (_POINT * (stop - start)) % tuple(chain.from_iterable(zip(ats[start:stop], texts)))
            self.writer.points_text(text, stop - start)

    def end(self, notes: str) -> None:
        while self.current < len(self.laps) - 1:
            self.current += 1
            self.writer.lap(self.laps[self.current].lap())
        self.writer.end(notes)
