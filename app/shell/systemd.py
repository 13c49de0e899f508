"""systemd integration: readiness, watchdog, status line, journal logging (docs/architecture.md, systemd).

The kiosk runs as a ``Type=notify`` service. :class:`Notifier` tells systemd

* ``READY=1`` once the first frame is on screen and the hardware self-check has run,
* ``WATCHDOG=1`` from the main loop, at half the interval systemd asks for in ``WATCHDOG_USEC``
  (the service manager's own advice, sd_watchdog_enabled(3)), so a hung loop is killed and restarted,
* ``STATUS=...`` whenever the short status line changes (``systemctl status`` shows it),
* ``STOPPING=1`` on SIGTERM, before the belt is stopped and the process exits.

Where systemd is absent (``NOTIFY_SOCKET`` unset: a desktop, the tests, ``backstep demo``) every
call is a cheap no-op, so the main loop calls it unconditionally.

The messages go through systemd-python's ``daemon.notify`` (sd_notify(3)) when it is installed (the
``[pi]`` extra). When it is not, and ``NOTIFY_SOCKET`` is set all the same, we speak the protocol
ourselves: it is one datagram of ``KEY=VALUE`` lines sent to an AF_UNIX socket, documented as a stable
interface in sd_notify(3). Without this, a kiosk installed without the extra (a pip install that could
not build systemd-python, which needs libsystemd-dev and a compiler) would never report READY under
``Type=notify``; systemd would then kill it at the start timeout and restart it forever.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Callable

try:  # the [pi] extra; optional everywhere else
    from systemd import daemon as _sd_daemon
except ImportError:  # pragma: no cover - depends on the install
    _sd_daemon = None

#: journald's native socket; JournalHandler can only deliver when it exists.
JOURNAL_SOCKET = "/run/systemd/journal/socket"

log = logging.getLogger(__name__)


def systemd_python_available() -> bool:
    return _sd_daemon is not None


def _socket_address(name: str) -> str | bytes:
    """NOTIFY_SOCKET names a path, or an abstract socket when it starts with ``@`` (sd_notify(3))."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


class _SocketSender:
    """The notify protocol without systemd-python: one datagram per message."""

    def __init__(self, name: str):
        self.address = _socket_address(name)

    def __call__(self, message: str) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(message.encode(), self.address)
            except OSError:
                # systemd went away or the socket is not ours to use: a notification is advice,
                # never a reason to stop the kiosk (sd_notify also just returns an error).
                return False
        return True


def _systemd_python_sender(message: str) -> bool:
    try:
        return bool(_sd_daemon.notify(message))
    except OSError:
        return False


class Notifier:
    """Talks to the service manager. Every method is a no-op when :attr:`enabled` is false.

    :param send: sends one notify message; ``None`` makes a disabled notifier.
    :param watchdog_usec: the watchdog interval systemd asked for, in microseconds (0 = none).
    :param clock: monotonic seconds, for the watchdog rate limit.
    """

    def __init__(self, send: Callable[[str], bool] | None = None, watchdog_usec: int = 0,
                 clock: Callable[[], float] = time.monotonic, backend: str = "none"):
        self._send = send
        self._clock = clock
        self.backend = backend
        #: systemd kills the service when no ping arrives within this many seconds (0 = no watchdog).
        self.watchdog_timeout_s = watchdog_usec / 1_000_000 if send else 0.0
        self._last_ping: float | None = None
        self._last_status: str | None = None

    @classmethod
    def from_environment(cls, environ: dict | None = None, use_systemd_python: bool | None = None,
                         clock: Callable[[], float] = time.monotonic) -> "Notifier":
        """Build the notifier systemd's environment asks for.

        ``use_systemd_python=None`` uses systemd-python when it is installed; ``False`` forces the
        built-in socket sender (the tests check both speak the same protocol).
        """
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET", "")
        if not name:
            return cls()
        if use_systemd_python is None:
            use_systemd_python = _sd_daemon is not None
        if use_systemd_python and _sd_daemon is None:
            raise RuntimeError("systemd-python is not installed")
        # sd_notify reads NOTIFY_SOCKET itself, so it only works on the real environment.
        if use_systemd_python and environ is None:
            send, backend = _systemd_python_sender, "systemd-python"
        else:
            send, backend = _SocketSender(name), "socket"
        return cls(send, _watchdog_usec(env), clock, backend)

    @property
    def enabled(self) -> bool:
        return self._send is not None

    @property
    def watchdog_interval_s(self) -> float:
        """How often :meth:`watchdog` really sends: half the timeout, 0 when there is no watchdog."""
        return self.watchdog_timeout_s / 2

    def notify(self, message: str) -> bool:
        if self._send is None:
            return False
        return self._send(message)

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: first frame drawn and hardware self-check done (docs/architecture.md, systemd)."""
        if status is not None and status != self._last_status:
            self._last_status = status
            return self.notify(f"READY=1\nSTATUS={status}")
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        """Call from every main-loop turn (which must wake at least every :attr:`watchdog_interval_s`);
        sends ``WATCHDOG=1`` about once per interval, never more often than 3/4 of it."""
        if self._send is None or self.watchdog_timeout_s <= 0:
            return False
        now = self._clock()
        # The loop wakes at least every watchdog_interval_s. Rate-limiting at exactly that interval
        # would let timer jitter skip a ping (woken 0.999 s after the last one) and leave a gap of
        # two intervals, which is the whole timeout. At 3/4 of it the worst gap is 1.75 intervals.
        if self._last_ping is not None and now - self._last_ping < 0.75 * self.watchdog_interval_s:
            return False
        self._last_ping = now
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """``STATUS=text``, only when it differs from the last one sent (called every frame)."""
        text = " ".join(text.split())  # one line: a newline would start a new protocol field
        if self._send is None or text == self._last_status:
            return False
        self._last_status = text
        return self.notify(f"STATUS={text}")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1`` on SIGTERM, before the belt is stopped and the process exits."""
        if status:
            return self.notify(f"STOPPING=1\nSTATUS={' '.join(status.split())}")
        return self.notify("STOPPING=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start-up time (a slow first boot on a Pi resizing its caches)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")


def _watchdog_usec(env) -> int:
    """sd_watchdog_enabled(3): WATCHDOG_USEC applies only to the process WATCHDOG_PID names."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return 0
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return 0
    return max(usec, 0)


# --------------------------------------------------------------------------------------- logging

class _FieldsFormatter(logging.Formatter):
    """stderr lines with the structured fields the journal would get: ``... [SESSION_ID=4 STATE=running]``."""

    FIELDS = ("SESSION_ID", "STATE")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{name}={getattr(record, name)}" for name in self.FIELDS if getattr(record, name, None) is not None]
        return f"{line} [{' '.join(extra)}]" if extra else line


def _journal_module():
    """systemd-python's journal module, or ``None`` without the [pi] extra. Imported only when there
    is a journal to log to: with uuid and its reader it costs about 2 ms, for nothing elsewhere (a
    desktop, the tests, the ready benchmark)."""
    try:
        from systemd import journal
    except ImportError:  # pragma: no cover - depends on the install
        return None
    return journal


def under_journal(environ: dict | None = None) -> bool:
    """True when stderr goes to the journal (systemd sets JOURNAL_STREAM) and journald is there."""
    env = os.environ if environ is None else environ
    return bool(env.get("JOURNAL_STREAM")) and os.path.exists(JOURNAL_SOCKET)


def setup_logging(identifier: str = "backstep", level: int = logging.INFO,
                  environ: dict | None = None, stream=None) -> logging.Handler:
    """Log to the journal under systemd (with ``SYSLOG_IDENTIFIER``), else to stderr.

    Structured fields travel as ``logging`` extras, e.g.
    ``log.info("session started", extra={"SESSION_ID": 4, "STATE": "running"})``; the journal stores
    them as fields (``journalctl SESSION_ID=4``), the stderr handler appends them to the line.
    Returns the handler it installed on the root logger (replacing one it installed before).
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_backstep", False):
            root.removeHandler(old)
    handler: logging.Handler
    journal = _journal_module() if under_journal(environ) else None
    if journal is not None:
        handler = journal.JournalHandler(SYSLOG_IDENTIFIER=identifier)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(_FieldsFormatter(f"{identifier}: %(levelname)s %(name)s: %(message)s"))
    handler._backstep = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
