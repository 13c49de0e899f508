"""Start-up work that can wait until the first frame is up (READY=1), done without holding up the
safety loop (docs/architecture.md, "Start-up"; docs/safety.md, rule 2).

Each job has two optional parts:

- *prepare* runs on a worker thread: the slow, self-contained part (importing sqlite-utils and
  the history and member modules). The loop never waits for it.
- *finish* runs on the loop's own thread once its *prepare* is done, because it touches what the
  loop owns (the station's listeners, the store's connection, the kiosk's caches). It is short, or
  a generator whose every step is short: the loop runs one step per pass, after it has fed the
  station's events to the core and drawn, so a lanyard pull waits behind one step at most.

The loop calls :meth:`AfterReady.start` after it sends READY=1 and :meth:`AfterReady.step` on every
pass; :meth:`AfterReady.has_step` says whether a step is waiting (the loop then does not sleep).

Jobs run one after another, in the order they were added: a job's *prepare* starts when the job
before it has finished. So the worker thread never competes for the interpreter (the GIL) with a
step the loop is running, which would stretch that step.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Iterator

log = logging.getLogger("backstep.kiosk")

Finish = Callable[[], "Iterator[None] | None"]


class AfterReady:
    """Jobs to run after READY=1: *prepare* on a worker thread, *finish* in steps on the loop's.

    :param wake: called (from the worker thread) when a *finish* is ready to run: the loop's waker.
    """

    def __init__(self, wake: Callable[[], None] = lambda: None):
        self.wake = wake
        #: Set when every job has finished (or failed, which is logged).
        self.done = threading.Event()
        self._jobs: list[tuple[str, Callable[[], None] | None, Finish | None]] = []
        self._due: deque[tuple[str, Finish]] = deque()  # prepared, waiting for the loop
        self._lock = threading.Lock()
        self._current: tuple[str, Iterator[None]] | None = None
        self._finished = 0
        self._job_done = threading.Event()
        self._started = False

    def add(self, name: str, *, prepare: Callable[[], None] | None = None, finish: Finish | None = None) -> None:
        """Add a job: *name* is for the log; *prepare* runs on the worker thread; *finish* on the loop's."""
        if self._started:
            raise RuntimeError("AfterReady.add after start: add every job before the loop starts")
        self._jobs.append((name, prepare, finish))

    def start(self) -> None:
        """Start the worker thread (once). Called by the loop right after READY=1."""
        if self._started:
            return
        self._started = True
        if not self._jobs:
            self.done.set()
            return
        threading.Thread(target=self._prepare_all, name="backstep-after-ready", daemon=True).start()

    def _prepare_all(self) -> None:
        for name, prepare, finish in self._jobs:
            if prepare is not None:
                try:
                    prepare()
                except Exception:  # noqa: BLE001 - a failed warm-up is logged; the loop goes on
                    log.exception("after READY: preparing %s failed", name)
                    finish = None
            self._job_done.clear()
            with self._lock:
                self._due.append((name, finish or _nothing))
            self.wake()
            self._job_done.wait()

    def has_step(self) -> bool:
        """A finish step is waiting to run on the loop's thread."""
        with self._lock:
            return self._current is not None or bool(self._due)

    def step(self) -> bool:
        """Run one finish step (on the loop's thread); False when none was waiting."""
        with self._lock:
            if self._current is None:
                if not self._due:
                    return False
                name, finish = self._due.popleft()
                self._current = (name, _steps(finish))
            name, steps = self._current
        try:
            next(steps)
            return True
        except StopIteration:
            pass
        except Exception:  # noqa: BLE001 - a failed finish is logged; the loop goes on
            log.exception("after READY: %s failed", name)
        with self._lock:
            self._current = None
            self._finished += 1
            if self._finished == len(self._jobs):
                self.done.set()
        self._job_done.set()
        return True


def _nothing() -> None:
    return None


def _steps(finish: Finish) -> Iterator[None]:
    """*finish* as steps: a generator's own steps, or a plain call as one step."""
    result = finish()
    if result is not None:
        yield from result
    else:
        yield
