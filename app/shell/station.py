"""The station runtime: owns the core state, feeds it events, carries out its effects.

One thread owns state (docs/architecture.md). Sensor callbacks, the serial reader and the sim-control
socket only :meth:`Station.post` events (thread-safe, time-stamped when they happen); the UI thread
calls :meth:`Station.process`, which feeds them to :func:`app.core.safety.step` (what the
hardware reports first, in its order, then the taps: :mod:`app.shell.inbox`) and executes the effects: stop/set the belt, store events and samples, and tell listeners (sound,
speech, the screen) what to play or say.

The belt is stopped *before* anything is stored or drawn: the stop is the first effect of a step
and the treadmill call comes first in :meth:`_execute`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Protocol

from ..config import Config
from ..core import safety
from ..core.effects import (
    CloseSession,
    Effect,
    OpenSession,
    RecordEvent,
    ScoreSession,
    SetBelt,
    StopBelt,
)
from ..core.events import Event, Tick
from ..core.record import replace
from ..core.safety import Link, Mode, State
from ..core.view import View, build_view
from .inbox import Inbox
from .store import Store

log = logging.getLogger("backstep.station")

#: docs/database.md: 1 Hz samples, committed at least every second.
SAMPLE_INTERVAL_S = 1.0
FLUSH_INTERVAL_S = 1.0
#: Stored as the reason of a session the station closed because it was shut down.
SHUTDOWN_REASON = "station shut down"


class Treadmill(Protocol):
    """What the station needs from a treadmill link (hardware.treadmill.link.TreadmillLink)."""

    def set_target(self, speed_kmh: float, incline_pct: float) -> None: ...
    def stop(self) -> None: ...


class Station:
    """The running station.

    :param config: the station config.
    :param store: where sessions go; ``None`` keeps nothing (used by a few tests and the demo).
    :param treadmill: a link with ``set_target``/``stop``, or ``None`` for cue mode (the person
        sets the speed; the screen and speech tell them).
    :param clock: monotonic seconds (a simulation passes its script clock).
    :param wall: epoch seconds for the stored times.
    :param link: the link state the core starts with: ``UP`` for a connected link, ``NONE`` in cue mode.
    """

    def __init__(self, config: Config, store: Store | None = None, *, treadmill: Treadmill | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 link: Link | None = None, source: str = "kiosk", safe_mode: bool = False):
        self.config = config
        self.cfg = config.safety
        self.store = store
        self.treadmill = None if safe_mode else treadmill
        self.safe_mode = safe_mode
        self.clock = clock
        self.source = source
        start = clock()
        self._wall_offset = wall() - start
        if link is None:
            link = Link.UP if treadmill is not None else Link.NONE
        self.state: State = safety.initial_state(link=link, caps=self.cfg.caps)
        self.wakeup: Callable[[], None] | None = None
        #: Hardware events go ahead of taps; taps wait in a bounded lane (app.shell.inbox).
        self.inbox = Inbox()
        self._listeners: list[Callable[[Effect], None]] = []
        self._now = start
        self.session_id: int | None = None
        self.last_session_id: int | None = None
        self._session_clock_start: float | None = None
        self._next_sample: float | None = None
        self._last_flush = start
        self._last_target: SetBelt | None = None

    def attach_treadmill(self, treadmill: Treadmill) -> None:
        """Use *treadmill* from now on. A link is opened after the station (its callbacks post to
        the station's queue), so it is attached here; the core then knows the link is up."""
        self.treadmill = None if self.safe_mode else treadmill
        if self.treadmill is not None:
            self.state = replace(self.state, link=Link.UP)

    # --- input --------------------------------------------------------------------------------

    def post(self, event: Event, at: float | None = None) -> bool:
        """Queue *event* from any thread, stamped with the time it happened. False when it was a
        tap dropped because the input lane is full (a flood); hardware events are never dropped."""
        queued = self.inbox.put(self.clock() if at is None else at, event)
        if not queued:
            return False
        wake = self.wakeup
        if wake is not None:
            try:
                wake()
            except Exception:  # noqa: BLE001 - waking the UI must never lose the event
                log.exception("wakeup hook failed")
        return True

    def add_listener(self, listener: Callable[[Effect], None]) -> None:
        """Hear every effect after the station has carried it out (sound, speech, screen)."""
        self._listeners.append(listener)

    # --- the loop's work ------------------------------------------------------------------------

    def process(self, now: float | None = None) -> tuple[Effect, ...]:
        """Feed queued events and due timers to the core; execute the effects. Main thread only.

        Every hardware event waiting goes to the core before each tap, so a lanyard pull that
        lands while taps are being handled is next. At most one lane's worth of taps is handled per
        call: a client that keeps refilling the lane cannot keep the loop from drawing the stop."""
        now = self.clock() if now is None else now
        done: list[Effect] = []
        taps_left = self.inbox.size
        while True:
            item = self.inbox.take_hardware()
            if item is None and taps_left > 0:
                item = self.inbox.take_input()
                taps_left -= 1
            if item is None:
                break
            at, event = item
            at = max(at, self._now)  # never step backwards in time
            self._sample_until(at)
            done.extend(self._apply(event, at))
        now = max(now, self._now)
        self._sample_until(now)
        done.extend(self._apply(Tick(), now))
        if self.store is not None and now - self._last_flush >= FLUSH_INTERVAL_S:
            self._progress_update(now)
            self.store.flush(saved_wall=self.wall_of(now))
            self._last_flush = now
        return tuple(done)

    def _apply(self, event: Event, at: float) -> tuple[Effect, ...]:
        self._now = at
        self.state, effects = safety.step(self.state, event, at, self.cfg)
        for effect in effects:
            self._execute(effect, at)
        return effects

    def view(self, now: float | None = None) -> View:
        return build_view(self.state, self.clock() if now is None else now, self.cfg)

    def next_deadline(self) -> float | None:
        """When :meth:`process` must next run by itself: a core timer or the next 1 Hz sample."""
        deadlines = [d for d in (safety.next_deadline(self.state, self.cfg), self._next_sample) if d is not None]
        return min(deadlines) if deadlines else None

    def wall_of(self, clock_s: float) -> float:
        return clock_s + self._wall_offset

    def shutdown(self) -> None:
        """Stop the belt, end a session that is still open as ``stopped`` ("station shut down",
        with its end time and a stop event) and save everything. For a stop by systemd (an update,
        a reboot), ``end`` on the control socket, or staff leaving the kiosk: the session ended on
        purpose, so the next start must not report it as a power cut or crash."""
        self._stop_belt(SHUTDOWN_REASON)
        self._end_session("stopped", SHUTDOWN_REASON)
        if self.store is not None:
            self.store.flush()

    # --- effects --------------------------------------------------------------------------------

    def _execute(self, effect: Effect, at: float) -> None:
        if isinstance(effect, StopBelt):
            self._stop_belt(effect.reason)
        elif isinstance(effect, SetBelt):
            self._last_target = effect
            if self.treadmill is not None:
                try:
                    self.treadmill.set_target(effect.speed_kmh, effect.incline_pct)
                except Exception as exc:  # noqa: BLE001 - a dead link is reported by the link itself
                    log.error("treadmill set_target failed: %s", exc)
        elif isinstance(effect, OpenSession):
            self._open_session(effect, at)
        elif isinstance(effect, CloseSession):
            self._close_session(effect, at)
        elif isinstance(effect, RecordEvent):
            self._record(effect)
        elif isinstance(effect, ScoreSession):
            target = self.session_id or self.last_session_id
            if self.store is not None and target is not None:
                self.store.score(target, effect.when, effect.score)
        for listener in self._listeners:
            try:
                listener(effect)
            except Exception:  # noqa: BLE001 - a broken speaker must not break the safety loop
                log.exception("effect listener failed")

    def _stop_belt(self, reason: str) -> None:
        self._last_target = None
        if self.treadmill is None:
            return
        try:
            self.treadmill.stop()
        except Exception as exc:  # noqa: BLE001 - the treadmill's own key remains (docs/safety.md, rule 1)
            log.error("treadmill stop failed (%s): %s", reason, exc)

    @property
    def session_open(self) -> bool:
        """A session runs (stored or not: without a store :attr:`session_id` stays ``None``)."""
        return self._session_clock_start is not None

    def interrupt(self, at: float, reason: str) -> None:
        """End an open session from outside the core (a simulation script ran out): stop the belt
        and store the session as ``interrupted``. The kiosk never needs this: the core ends sessions."""
        if not self.session_open:
            return
        self._stop_belt(reason)
        self._close_session(CloseSession("interrupted", at, self.state.active_seconds(at), self.state.phase_index,
                                         reason), at)
        if self.store is not None:
            self.store.flush()

    def _end_session(self, status: str, reason: str) -> None:
        """Close an open session from outside the core: a stop event, then the session, told to
        the listeners (the history's stats) as if the core had closed it."""
        if not self.session_open:
            return
        at = max(self.clock(), self._now)
        phase = self.state.phase_index
        self._execute(RecordEvent("stop", at, {"phase": phase, "reason": reason}), at)
        self._execute(CloseSession(status, at, self.state.active_seconds(at), phase, reason), at)

    def _open_session(self, effect: OpenSession, at: float) -> None:
        self._session_clock_start = at
        self._next_sample = at
        if self.store is None:
            return
        self.session_id = self.store.open_session(program=effect.program, member=effect.member,
                                                  wall=self.wall_of(at), clock_s=at, source=self.source)

    def _close_session(self, effect: CloseSession, at: float) -> None:
        self._sample_until(at)
        if self.store is not None and self.session_id is not None:
            start = self._session_clock_start or at
            self.store.close_session(self.session_id, status=effect.status, wall=self.wall_of(at),
                                     active_seconds=effect.active_seconds, elapsed_seconds=at - start,
                                     phases_completed=effect.phases_completed, reason=effect.reason,
                                     distance_m=self.state.distance_m)
        self.last_session_id = self.session_id
        self.session_id = None
        self._session_clock_start = None
        self._next_sample = None

    def _record(self, effect: RecordEvent) -> None:
        if self.store is None:
            return
        session_id = self.session_id
        t = None
        if session_id is not None and self._session_clock_start is not None:
            t = effect.at - self._session_clock_start
        if effect.kind == "phase_started" and session_id is not None:
            self.store.add_phase(session_id, effect.detail, wall=self.wall_of(effect.at), t=t or 0.0)
        self.store.add_event(effect.kind, session_id=session_id, wall=self.wall_of(effect.at),
                             clock_s=effect.at, t=t, detail=effect.detail)

    # --- samples ----------------------------------------------------------------------------------

    def _sample_until(self, now: float) -> None:
        """Write the 1 Hz samples due up to *now*, from the state as it stands."""
        while self._next_sample is not None and self._next_sample <= now + 1e-9:
            self._write_sample(self._next_sample)
            self._next_sample += SAMPLE_INTERVAL_S

    def _write_sample(self, at: float) -> None:
        if self.store is None or self.session_id is None:
            return
        state = self.state
        target = self._last_target if state.mode is Mode.RUNNING else None
        self.store.add_sample(
            self.session_id,
            t=at - (self._session_clock_start or at),
            wall=self.wall_of(at),
            mode=state.mode.value,
            phase_idx=state.phase_index,
            target_speed_kmh=round(target.speed_kmh, 3) if target else 0.0,
            actual_speed_kmh=_round_or_none(state.belt_speed_kmh),
            incline_pct=round(target.incline_pct, 2) if target else 0.0,
            rails_held=int(state.rails_held),
            lanyard_clipped=int(state.lanyard_clipped),
            distance_m=_round_or_none(state.distance_m),
        )

    def _progress_update(self, now: float) -> None:
        if self.store is None or self.session_id is None:
            return
        start = self._session_clock_start or now
        self.store.update_session(self.session_id, active_seconds=round(self.state.active_seconds(now), 3),
                                  elapsed_seconds=round(now - start, 3), phases_completed=self.state.phase_index)


def _round_or_none(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 3)
