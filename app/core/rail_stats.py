"""Rail dependence of one session, from its stored samples and events (docs/practice.md, "Rails").

docs/practice.md, "Rails": hold them at first; let go of one hand, then both, only once the movement is
mastered; the station keeps "a record of how much of each session was walked hands-free, to show
progress off the rails". Three numbers per session say it:

- the share of *walking time* with the rails held (walking = a 1 Hz sample taken while the program
  was running with a belt target above zero: countdowns, pauses and turnarounds are not walking);
- the number of *early releases*: rails let go while the phase required them (the core records
  ``rails_released`` with ``early: true``), plus rails pauses that no such release explains (a
  release during the resume countdown pauses without a ``rails_released`` event);
- the *longest hands-free stretch* in optional phases, in seconds of consecutive walking samples
  with the rails not held.

Pure: rows in (plain dicts as the store returns them), numbers out. The shell computes this once
when a session closes and keeps it in ``session_stats``, so history never reads samples again.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from .record import Record, asdict

#: docs/database.md: samples are written at 1 Hz, so each walking sample stands for one second.
SAMPLE_INTERVAL_S = 1.0

#: The pause reason the safety core stores for a rails pause (``PauseReason.RAILS.value``).
RAILS_PAUSE_REASON = "rails released"


class RailStats(Record):
    """Rail dependence of one session. Seconds are walking seconds (see the module notes)."""

    walking_seconds: float = 0.0
    rails_held_seconds: float = 0.0
    #: Releases in rails-required phases: early ``rails_released`` events + unexplained rails pauses.
    early_releases: int = 0
    #: Pauses the station made because the rails were let go (a subset of the episodes above).
    rails_pauses: int = 0
    #: Longest run of consecutive walking samples with the rails not held, in optional phases only.
    longest_hands_free_s: float = 0.0
    #: Fastest backward target while walking, km/h (the "top backward speed" of history).
    top_backward_speed_kmh: float = 0.0

    @property
    def rails_held_share(self) -> float | None:
        """0..1, or ``None`` when nothing was walked (a share of nothing is not 0 % or 100 %)."""
        if self.walking_seconds <= 0:
            return None
        return self.rails_held_seconds / self.walking_seconds

    @property
    def hands_free_share(self) -> float | None:
        share = self.rails_held_share
        return None if share is None else 1.0 - share

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rails_held_share"] = self.rails_held_share
        out["hands_free_share"] = self.hands_free_share
        return out


def _detail(event: Mapping[str, Any]) -> dict:
    detail = event.get("detail")
    if isinstance(detail, dict):
        return detail
    if not detail:
        return {}
    try:
        parsed = json.loads(detail)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def number(value: Any) -> float | None:
    """A stored number, or None for NULL and for anything another tool put where a number belongs
    (text, a blob): such a value counts as missing, never stops the statistics."""
    if type(value) in (int, float):
        return value
    return None


def walking_speed(mode: Any, target_kmh: Any, actual_kmh: Any) -> float | None:
    """The belt speed of a walking sample (running with a target above zero): the treadmill's
    reading, else the target; None for a sample that is not walking. The one rule the distance
    estimate, the TCX track and the walking seconds share."""
    target = number(target_kmh)
    if mode != "running" or not target or target <= 0:
        return None
    actual = number(actual_kmh)
    return actual if actual is not None else target


def _is_walking(sample: Mapping[str, Any]) -> bool:
    return walking_speed(sample.get("mode"), sample.get("target_speed_kmh"), 0.0) is not None


def rail_stats(
    samples: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    optional_phases: Iterable[int] = (),
    backward_phases: Iterable[int] | None = None,
    sample_interval_s: float = SAMPLE_INTERVAL_S,
) -> RailStats:
    """Compute :class:`RailStats` for one session.

    :param samples: the session's samples in time order (``mode``, ``phase_idx``,
        ``target_speed_kmh``, ``rails_held``).
    :param events: the session's events in order (``kind``, ``detail`` as a dict or JSON text).
    :param optional_phases: indexes of phases in which the person was allowed to let go (the phase
        said ``rails = "optional"`` *and* the member may walk hands-free). A phase with an early
        release is treated as required whatever this says: the core judged it so at the time.
    :param backward_phases: indexes of backward phases, for the top backward speed; ``None``
        counts every phase (older sessions without a phase table).
    """
    events = list(events)
    early_in_phase: set[int] = set()
    early_releases = 0
    rails_pauses = 0
    open_release = False  # an early release not yet followed by its pause or a re-grip
    for event in events:
        kind = event.get("kind")
        detail = _detail(event)
        if kind == "rails_released" and detail.get("early"):
            early_releases += 1
            open_release = True
            if isinstance(detail.get("phase"), int):
                early_in_phase.add(detail["phase"])
        elif kind == "pause" and detail.get("reason") == RAILS_PAUSE_REASON:
            rails_pauses += 1
            if not open_release:
                early_releases += 1  # e.g. let go during the resume countdown: no release event
            open_release = False
        elif kind in ("rails_held", "resume", "session_started"):
            open_release = False

    optional = set(optional_phases) - early_in_phase
    backward = None if backward_phases is None else set(backward_phases)
    walking = held = 0
    run = longest = 0
    top = 0.0
    for sample in samples:
        if not _is_walking(sample):
            run = 0
            continue
        walking += 1
        phase = sample.get("phase_idx")
        if sample.get("rails_held"):
            held += 1
            run = 0
        elif phase in optional:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
        if backward is None or phase in backward:
            top = max(top, float(number(sample.get("target_speed_kmh")) or 0.0))
    return RailStats(
        walking_seconds=walking * sample_interval_s,
        rails_held_seconds=held * sample_interval_s,
        early_releases=early_releases,
        rails_pauses=rails_pauses,
        longest_hands_free_s=longest * sample_interval_s,
        top_backward_speed_kmh=round(top, 3),
    )


# --- distance and per-phase figures: what the history, the CSV and the TCX laps all read -------------


class PhaseFigures(Record):
    """One program phase's share of a session (a TCX lap). ``phase_idx`` None: samples taken
    before any phase started."""

    phase_idx: int | None
    first_at: str | None = None         # the time of its first sample (ISO 8601, as stored)
    walking_seconds: float = 0.0
    estimated_m: float = 0.0            # from the belt speed while walking (actual, else target)
    max_distance_m: float | None = None  # the treadmill's own counter, when it reports one
    max_speed_kmh: float | None = None  # fastest belt speed the treadmill reported


class SessionFigures(Record):
    """Counts and distance of one session: the one source for what history, CSV and TCX show."""

    samples: int = 0
    walking_seconds: float = 0.0
    #: Metres; None when nothing was walked and the treadmill measured nothing.
    distance_m: float | None = None
    #: ``treadmill`` (measured) | ``estimated`` (from the belt speed) | ``""`` (no distance).
    distance_source: str = ""
    phases: tuple[PhaseFigures, ...] = ()


def session_figures(samples: Iterable[Mapping[str, Any]], measured_distance_m: float | None = None,
                    sample_interval_s: float = SAMPLE_INTERVAL_S) -> SessionFigures:
    """Distance and per-phase figures from a session's samples in time order.

    :param measured_distance_m: the distance the station stored when the session closed (the
        treadmill's counter then); it wins over the samples' last reading.
    The distance is measured when the treadmill reported one (the largest reading), else the
    walking seconds' belt speed (actual, else the target) times their duration.
    """
    groups: dict[Any, list] = {}
    count = 0
    for sample in samples:
        count += 1
        phase = sample.get("phase_idx")
        group = groups.get(phase)
        if group is None:
            group = groups[phase] = [sample.get("at"), 0, 0.0, None, None]
        distance = number(sample.get("distance_m"))
        if distance is not None and (group[3] is None or distance > group[3]):
            group[3] = float(distance)
        speed = number(sample.get("actual_speed_kmh"))
        if speed is not None and (group[4] is None or speed > group[4]):
            group[4] = float(speed)
        belt = walking_speed(sample.get("mode"), sample.get("target_speed_kmh"), speed)
        if belt is not None:
            group[1] += 1
            group[2] += belt / 3.6 * sample_interval_s
    phases = tuple(PhaseFigures(idx, at, walking * sample_interval_s, estimated, max_distance, max_speed)
                   for idx, (at, walking, estimated, max_distance, max_speed) in groups.items())
    walking = sum(p.walking_seconds for p in phases)
    readings = [p.max_distance_m for p in phases if p.max_distance_m is not None]
    if measured_distance_m is not None:
        distance, source = float(measured_distance_m), "treadmill"
    elif readings:
        distance, source = max(readings), "treadmill"
    elif walking:
        distance, source = round(sum(p.estimated_m for p in phases), 3), "estimated"
    else:
        distance, source = None, ""
    return SessionFigures(count, walking, distance, source, phases)


def split_seconds(parts: list[float], total: float | None) -> list[float]:
    """Lap times that add up to the session's *total* active seconds: every part as counted but the
    last, which takes what remains (the 1 Hz samples count one more second than elapsed, a sample
    at each end); parts that exceed *total* are scaled down. *total* None keeps the parts."""
    if total is None or not parts:
        return list(parts)
    head = sum(parts[:-1])
    if head <= total:
        return [*parts[:-1], total - head]
    scale = total / sum(parts) if sum(parts) else 0.0
    return [p * scale for p in parts]
