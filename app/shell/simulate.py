"""Run one session from a script, through the real core, store and simulated hardware.

The script's clock drives everything: the station's clock *is* the script time, so a run is exact
and repeatable however fast it goes. With ``speed`` set, the run sleeps so that script time moves at
``speed`` times real time (``speed=1`` is real time, so a crash test can kill it mid-session).

Sensor lines (``lanyard``, ``rails``) drive gpiozero MockFactory pins of the simulated station, so
the production GPIO adapters turn them into events. ``link lost|restored`` become the link's own
events: the CSAFE link notices silence on the wall clock, which a script clock cannot speed up.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import Config
from ..core.events import LinkLost, LinkRestored, PainScored, ProgramChosen
from ..core.member import Member
from ..core.program import Program
from ..core.safety import Link, Mode
from .station import Station
from .script import TAPS, Command, ScriptLine
from .store import Store


#: With no ``end`` line, stop this long after the program could have finished at the latest.
RUN_ON_LIMIT_S = 3600.0
#: A session that stays paused (or stopped short of running) this long on the script's clock is
#: ended as ``interrupted``, as if staff had closed it: a script that pauses and ends hours later
#: would otherwise store a 1 Hz sample of a standing belt for every one of those seconds. Thirty
#: minutes is longer than any program's pauses in practice (a rest, a turn, a re-grip) and than a
#: whole typical session (docs/practice.md: 10-20 minutes). docs/commands.md "Simulation scripts".
MAX_PAUSE_S = 30 * 60.0


class ScriptClock:
    """The simulation's clock: moves only when the runner moves it."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class SimulationResult:
    session_id: int | None
    program: str
    status: str
    active_seconds: float
    elapsed_seconds: float
    phases_completed: int
    phases_total: int
    pauses: list[dict] = field(default_factory=list)
    emergency_stops: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    samples: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "program": self.program,
            "status": self.status,
            "active_seconds": round(self.active_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "phases_completed": self.phases_completed,
            "phases_total": self.phases_total,
            "pauses": self.pauses,
            "emergency_stops": self.emergency_stops,
            "events": self.events,
            "samples": self.samples,
        }


class SimulatedHardware:
    """The simulated station's sensors, wired to a :class:`Station` through the real adapters."""

    def __init__(self, config: Config, station: Station):
        from .devices import attach_sensors, simulated_station

        # Cue-mode hardware: the script's link lines stand for the link's own events (see above).
        self.sim = simulated_station(config, treadmill=False)
        self.sensors = attach_sensors(config, station.post, pin_factory=self.sim.pin_factory)

    def apply(self, command: Command) -> None:
        self.sim.apply(command)  # already parsed: the station takes what/arg as they are

    def close(self) -> None:
        for thing in (self.sensors, self.sim):
            closer = getattr(thing, "close", None)
            if closer:
                closer()


def run_script(
    program: Program,
    script: list[ScriptLine],
    store: Store,
    config: Config,
    *,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    settle: Callable[[Station, Command], None] | None = None,
    member: Member | None = None,
    on_station: Callable[[Station], None] | None = None,
) -> SimulationResult:
    """Run *script* against *program*. Returns the summary read back from the store."""
    clock = ScriptClock()
    station = Station(config, store, clock=clock, wall=time.time, link=Link.UP, source="simulate")
    if on_station is not None:
        on_station(station)  # e.g. attach per-session statistics, as the kiosk does
    hardware = SimulatedHardware(config, station)
    first_event_id = _max_event_id(store)
    real_start = time.monotonic()
    idle_since: float | None = None  # since when the open session has not been running

    def watch_pause() -> float | None:
        """When the open session will have been paused for MAX_PAUSE_S (None while it runs)."""
        nonlocal idle_since
        if station.session_open and station.state.mode is not Mode.RUNNING:
            if idle_since is None:
                idle_since = clock.t
            return idle_since + MAX_PAUSE_S
        idle_since = None
        return None

    def step_to(at: float) -> None:
        _wait(at)
        clock.t = max(clock.t, at)
        station.process(clock.t)
        limit = watch_pause()
        if limit is not None and clock.t >= limit:
            station.interrupt(clock.t, f"paused for more than {MAX_PAUSE_S / 60:g} minutes")
            watch_pause()

    def move_to(target: float) -> None:
        # Step through every core deadline, 1 Hz sample and pause limit before *target*, at its own
        # time. One falling exactly on *target* is left to the step that carries the line's event:
        # the core orders such a tie itself (a stop-ish event wins over a timer due at that instant).
        while True:
            due = [d for d in (station.next_deadline(), watch_pause()) if d is not None]
            if not due or min(due) >= target:
                break
            step_to(min(due))
        _wait(target)
        clock.t = max(clock.t, target)

    def run_to(target: float) -> None:
        move_to(target)
        step_to(clock.t)

    def _wait(until: float) -> None:
        if speed:
            delay = real_start + until / speed - time.monotonic()
            if delay > 0:
                sleep(delay)

    try:
        station.post(ProgramChosen(program, member), at=0.0)
        station.process(0.0)
        ended = False
        for line in script:
            move_to(line.seconds)
            command = line.command
            if command.what == "end":
                station.process(clock.t)
                ended = True
                break
            if command.what == "tap":
                station.post(TAPS[command.arg](), at=clock.t)
            elif command.what == "score":
                station.post(PainScored(command.arg, command.value), at=clock.t)
            elif command.what == "link":
                station.post(LinkLost("cable pulled") if command.arg == "lost" else LinkRestored(), at=clock.t)
            else:
                hardware.apply(command)
                (settle or _settle_sensors)(station, command)
            station.process(clock.t)
            watch_pause()
        if not ended:
            limit = clock.t + program.total_seconds + RUN_ON_LIMIT_S
            # Run on while a session is open or about to open (a start countdown still running).
            while (station.session_open or station.state.mode is Mode.COUNTDOWN) and clock.t < limit:
                run_to(min(limit, (station.next_deadline() or limit)))
            run_to(clock.t)
        station.interrupt(clock.t, "the script ended during the session")
        store.flush()
    finally:
        hardware.close()
    return _summary(store, station, program, first_event_id)


def _settle_sensors(station: Station, command: Command, timeout: float = 2.0) -> None:
    """Wait (real time, bounded) until a sensor command has reached the core through the adapter.

    The re-arm debounce of the GPIO adapters runs on the wall clock; the script clock stands still
    meanwhile, so the event is stamped with the script time of its line.
    """
    want = {
        ("lanyard", "clipped"): lambda s: s.lanyard_clipped,
        ("lanyard", "pulled"): lambda s: not s.lanyard_clipped,
        ("rails", "held"): lambda s: s.rails_held,
        ("rails", "released"): lambda s: not s.rails_held,
    }.get((command.what, command.arg))
    if want is None:
        return
    give_up = time.monotonic() + timeout
    while True:
        station.process(station.clock())
        if want(station.state) or time.monotonic() > give_up:
            return
        time.sleep(0.005)


def _max_event_id(store: Store) -> int:
    rows = list(store.db.query("select coalesce(max(id), 0) as m from events"))
    return rows[0]["m"]


def _summary(store: Store, station: Station, program: Program, first_event_id: int) -> SimulationResult:
    events = list(store.db.query("select * from events where id > ? order by id", [first_event_id]))
    session_id = station.last_session_id
    row = store.session(session_id) if session_id else None
    pauses: list[dict] = []
    open_pause: dict | None = None
    for event in events:
        if event["kind"] == "pause":
            open_pause = {"reason": json.loads(event["detail"]).get("reason"), "at": event["clock_s"], "resumed_at": None}
            pauses.append(open_pause)
        elif event["kind"] in ("pause_reason_changed", "resume_cancelled") and open_pause is not None:
            # The open pause goes on with a new reason: still one pause (listed only when it changed).
            reason = json.loads(event["detail"]).get("reason")
            changes = open_pause.get("reason_changes", [])
            if reason != (changes[-1]["reason"] if changes else open_pause["reason"]):
                open_pause["reason_changes"] = [*changes, {"at": event["clock_s"], "reason": reason}]
        elif event["kind"] == "resume" and open_pause is not None:
            open_pause["resumed_at"] = event["clock_s"]
            open_pause = None
        elif event["kind"] in ("emergency_stop", "stop", "pain", "completed"):
            open_pause = None
    return SimulationResult(
        session_id=session_id,
        program=program.id,
        status=row["status"] if row else "not_started",
        active_seconds=row["active_seconds"] if row else 0.0,
        elapsed_seconds=row["elapsed_seconds"] if row else 0.0,
        phases_completed=row["phases_completed"] if row else 0,
        phases_total=len(program.phases),
        pauses=pauses,
        emergency_stops=[{"at": e["clock_s"]} for e in events if e["kind"] == "emergency_stop"],
        events=[{"at": e["clock_s"], "kind": e["kind"], **({"detail": json.loads(e["detail"])} if e["detail"] not in (None, "{}") else {})} for e in events],
        samples=store.db.execute("select count(*) from samples where session_id = ?", [session_id]).fetchone()[0]
        if session_id else 0,
    )
