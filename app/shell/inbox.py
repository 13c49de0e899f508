"""The station's inbox: two lanes, so no amount of input can delay a stop.

Everything that happens reaches the one thread that owns state through here (docs/architecture.md).
Two lanes, because a stop must never wait behind taps (docs/safety.md, rules 2 and 5):

* the **hardware lane** holds what the sensors and the treadmill link report (lanyard, rails,
  sensor faults, link lost/restored, belt reports). It is never bounded and never dropped from,
  keeps its own order (the last lanyard reading is always the true one), and is read first.
* the **input lane** holds what people and scripts ask for (taps, a chosen program, scores). It is
  bounded: a flood of taps from a stuck screen or a runaway control-socket client fills it, and
  then further "go" taps (start, resume, confirm, ...) are dropped and counted. A "halt" tap
  (pause, stop, pain) is never dropped while a "go" tap waits: the newest "go" tap makes room.
  A tap equal to the one queued just before it is merged into it (a double press is one press),
  except Stop, whose second tap means "skip the cool-down".

A tap queued before a sensor event of the same loop pass is judged against the newer sensor
state. That moves nothing: the core checks every start, resume and confirm against the sensors
as they are when it handles the tap.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from ..core.events import (
    Event,
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
    PainTapped,
    PauseTapped,
    RailsHeld,
    RailsReleased,
    SensorFault,
    StopTapped,
    TreadmillReported,
)
from ..core.record import Record

log = logging.getLogger("backstep.station")

#: What the hardware reports: read before any tap, never dropped.
HARDWARE_EVENTS = (LanyardPulled, LanyardClipped, RailsReleased, RailsHeld, SensorFault, LinkLost, LinkRestored,
                   TreadmillReported)
#: Taps that stop the belt: never dropped to make room for a tap that could start it.
HALT_TAPS = (PauseTapped, StopTapped, PainTapped)
#: Taps whose repeat means something (a second Stop ends the cool-down): never merged.
NEVER_MERGED = (StopTapped,)
#: Waiting taps at most. A person taps a few times a second and the loop reads the lane every
#: pass (at least 4 times a second), so only a flood ever fills it.
INPUT_LANE_SIZE = 32


class InboxCounts(Record, frozen=False):
    """What the input lane did with the taps it was given (for logs, tests and the benchmark)."""

    accepted: int = 0
    merged: int = 0
    dropped: int = 0


class Inbox:
    """Thread-safe: any thread may :meth:`put`; only the loop's thread may :meth:`take`."""

    def __init__(self, size: int = INPUT_LANE_SIZE):
        self.size = size
        self.counts = InboxCounts()
        # deque.append / popleft are atomic: the hardware lane needs no lock, so a sensor thread
        # never waits for a thread that is flooding the input lane.
        self._hardware: deque[tuple[float, Event]] = deque()
        self._input: deque[tuple[float, Event]] = deque()
        self._lock = threading.Lock()
        self._warned_at_drop = 0

    def put(self, at: float, event: Event) -> bool:
        """Queue *event* (stamped *at*). False when the input lane was full and the tap was dropped."""
        if isinstance(event, HARDWARE_EVENTS):
            self._hardware.append((at, event))
            return True
        with self._lock:
            lane = self._input
            if lane and not isinstance(event, NEVER_MERGED) and lane[-1][1] == event:
                self.counts.merged += 1
                return True
            if len(lane) >= self.size and not self._make_room_for(event):
                self.counts.dropped += 1
                dropped = self.counts.dropped
            else:
                lane.append((at, event))
                self.counts.accepted += 1
                return True
        if dropped >= 2 * self._warned_at_drop:  # 1, 2, 4, 8, ...: visible, without flooding the log
            self._warned_at_drop = dropped
            log.warning("input flood: %d taps dropped so far (at most %d wait; sensor events still go first)",
                        dropped, self.size)
        return False

    def _make_room_for(self, event: Event) -> bool:
        """Full lane: a halt tap takes the place of the newest go tap. Called with the lock held."""
        if not isinstance(event, HALT_TAPS):
            return False
        lane = self._input
        for index in range(len(lane) - 1, -1, -1):
            if not isinstance(lane[index][1], HALT_TAPS):
                del lane[index]
                self.counts.dropped += 1
                return True
        return False

    def take_hardware(self) -> tuple[float, Event] | None:
        """The oldest hardware event, or None."""
        try:
            return self._hardware.popleft()
        except IndexError:
            return None

    def take_input(self) -> tuple[float, Event] | None:
        """The oldest waiting tap, or None."""
        with self._lock:
            return self._input.popleft() if self._input else None

    def waiting(self) -> tuple[int, int]:
        """(hardware events, taps) waiting now."""
        return len(self._hardware), len(self._input)
