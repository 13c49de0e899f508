"""systemd's notify protocol, spoken to a REAL AF_UNIX datagram socket named by NOTIFY_SOCKET.

The unit tests run the Notifier both through systemd-python (when installed) and through the
built-in sender, and check both put the same bytes on the socket. The slow test at the end starts
the real kiosk (``backstep run --sim``) as systemd would and watches READY, WATCHDOG, STATUS and
STOPPING arrive (docs/architecture.md, systemd).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from app.shell import systemd as sd
from app.shell.systemd import Notifier, setup_logging
from conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
HAS_SYSTEMD_PYTHON = sd.systemd_python_available()


class NotifySocket:
    """What systemd does: bind a datagram socket and collect (arrival time, message) pairs."""

    def __init__(self, abstract: bool = False):
        self.dir = tempfile.mkdtemp(prefix="bs-notify-")  # short: AF_UNIX paths are <108 bytes
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"backstep-test-{os.getpid()}-{id(self)}"
            self.sock.bind(b"\0" + name.encode())
            self.name = "@" + name
        else:
            self.name = os.path.join(self.dir, "notify")
            self.sock.bind(self.name)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def texts(self) -> list[str]:
        return [m for _, m in self.messages]

    def first(self, predicate, timeout: float, proc: subprocess.Popen | None = None) -> tuple[float, str] | None:
        """The first (arrival time, message) whose message matches, waiting up to *timeout* s for it;
        None if it never came (sooner when *proc* exits without sending it)."""
        def found():
            return next((item for item in list(self.messages) if predicate(item[1])), None)

        wait_for(lambda: found() or (proc is not None and proc.poll() is not None), timeout)
        if found() is None and proc is not None and proc.poll() is not None:
            wait_for(found, timeout=0.5)  # the process is gone; its last datagrams may still be queued
        return found()

    def settle(self, count: int, timeout: float = 2.0) -> None:
        wait_for(lambda: len(self.messages) >= count, timeout)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify_socket():
    sock = NotifySocket()
    yield sock
    sock.close()


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _exercise(notifier: Notifier, clock: Clock) -> None:
    notifier.ready("idle: home screen")
    notifier.watchdog()
    notifier.watchdog()                       # too soon: rate-limited
    clock.t += 0.7
    notifier.watchdog()                       # still too soon (under 3/4 of the 1 s interval)
    clock.t += 0.3
    notifier.watchdog()                       # half of the 2 s timeout has passed
    notifier.status("running: Warm-up 1:20 left")
    notifier.status("running: Warm-up 1:20 left")  # unchanged: not sent
    notifier.status("paused:\nrails released")      # one line, whatever the caller passes
    notifier.stopping()


EXPECTED = [
    "READY=1\nSTATUS=idle: home screen",
    "WATCHDOG=1",
    "WATCHDOG=1",
    "STATUS=running: Warm-up 1:20 left",
    "STATUS=paused: rails released",
    "STOPPING=1",
]


def test_builtin_sender_speaks_the_protocol(notify_socket, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.name)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    clock = Clock()
    notifier = Notifier.from_environment(use_systemd_python=False, clock=clock)
    assert notifier.enabled and notifier.backend == "socket"
    assert notifier.watchdog_interval_s == pytest.approx(1.0)
    _exercise(notifier, clock)
    notify_socket.settle(len(EXPECTED))
    assert notify_socket.texts() == EXPECTED


@pytest.mark.skipif(not HAS_SYSTEMD_PYTHON, reason="systemd-python not installed (the [pi] extra)")
def test_systemd_python_sends_the_same_bytes(monkeypatch):
    """Both backends must be interchangeable: same datagrams, in the same order."""
    results = {}
    for use in (True, False):
        sock = NotifySocket()
        try:
            monkeypatch.setenv("NOTIFY_SOCKET", sock.name)
            monkeypatch.setenv("WATCHDOG_USEC", "2000000")
            clock = Clock()
            notifier = Notifier.from_environment(use_systemd_python=use, clock=clock)
            assert notifier.backend == ("systemd-python" if use else "socket")
            _exercise(notifier, clock)
            sock.settle(len(EXPECTED))
            results[use] = sock.texts()
        finally:
            sock.close()
    assert results[True] == results[False] == EXPECTED


@pytest.mark.parametrize("use", [False, pytest.param(True, marks=pytest.mark.skipif(
    not HAS_SYSTEMD_PYTHON, reason="systemd-python not installed"))])
def test_abstract_socket_names(monkeypatch, use):
    sock = NotifySocket(abstract=True)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", sock.name)
        assert sock.name.startswith("@")
        assert Notifier.from_environment(use_systemd_python=use).ready()
        sock.settle(1)
        assert sock.texts() == ["READY=1"]
    finally:
        sock.close()


def test_no_notify_socket_means_a_silent_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    notifier = Notifier.from_environment()
    assert not notifier.enabled
    assert notifier.watchdog_interval_s == 0
    assert not notifier.ready() and not notifier.watchdog() and not notifier.status("x") and not notifier.stopping()


def test_watchdog_belongs_to_the_pid_systemd_named(notify_socket):
    env = {"NOTIFY_SOCKET": notify_socket.name, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}
    assert Notifier.from_environment(env).watchdog_interval_s == 0
    env["WATCHDOG_PID"] = str(os.getpid())
    assert Notifier.from_environment(env).watchdog_interval_s == pytest.approx(1.0)


def test_no_watchdog_usec_means_no_pings(notify_socket):
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": notify_socket.name})
    assert notifier.enabled
    assert not notifier.watchdog()


def test_a_vanished_systemd_does_not_crash_the_kiosk(tmp_path):
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert notifier.ready() is False  # reported, not raised


# ----------------------------------------------------------------------------------------- logging

def test_logging_to_stderr_carries_the_structured_fields(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    stream = io.StringIO()
    handler = setup_logging("backstep", stream=stream)
    try:
        assert isinstance(handler, logging.StreamHandler)
        logging.getLogger("app.test").warning("paused", extra={"SESSION_ID": 7, "STATE": "paused"})
        assert stream.getvalue().strip() == "backstep: WARNING app.test: paused [SESSION_ID=7 STATE=paused]"
    finally:
        logging.getLogger().removeHandler(handler)


def test_journal_stream_without_journald_falls_back_to_stderr(monkeypatch, tmp_path):
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    monkeypatch.setattr(sd, "JOURNAL_SOCKET", str(tmp_path / "no-journald"))
    handler = setup_logging(stream=io.StringIO())
    logging.getLogger().removeHandler(handler)
    assert isinstance(handler, logging.StreamHandler)


JOURNALD = "/run/systemd/journal/socket"


@pytest.mark.skipif(not HAS_SYSTEMD_PYTHON, reason="systemd-python not installed (the [pi] extra)")
@pytest.mark.skipif(os.path.exists(JOURNALD), reason="a real journald owns the socket here")
def test_journal_gets_identifier_and_fields(monkeypatch):
    """libsystemd's sd_journal_send talks to a fixed path; stand in for journald there, for real."""
    try:
        os.makedirs(os.path.dirname(JOURNALD), exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(JOURNALD)
    except OSError as exc:
        pytest.skip(f"cannot bind {JOURNALD}: {exc}")
    try:
        sock.settimeout(5)
        monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
        handler = setup_logging("backstep")
        try:
            assert type(handler).__name__ == "JournalHandler"
            logging.getLogger("app.shell.station").warning(
                "emergency stop", extra={"SESSION_ID": 42, "STATE": "estop"})
        finally:
            logging.getLogger().removeHandler(handler)
        fields = dict(line.split("=", 1) for line in sock.recv(65536).decode().splitlines() if "=" in line)
        assert fields["MESSAGE"] == "emergency stop"
        assert fields["SYSLOG_IDENTIFIER"] == "backstep"
        assert fields["SESSION_ID"] == "42"
        assert fields["STATE"] == "estop"
        assert fields["PRIORITY"] == "4"
    finally:
        sock.close()
        os.unlink(JOURNALD)


# ----------------------------------------------------------------------- the real kiosk, as systemd

class SimControl:
    """Client of ``--sim-control PATH``: one script command per line (docs/commands.md)."""

    def __init__(self, path: str, timeout: float = 20.0):
        def connected() -> bool:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                return True
            except OSError:
                self.sock.close()
                return False

        if not wait_for(connected, timeout, interval=0.05):
            raise AssertionError(f"no sim-control socket at {path} after {timeout} s")
        self.sock.settimeout(10)
        self.reader = self.sock.makefile("r", encoding="utf-8")

    def send(self, line: str) -> str:
        """Send one command; the server answers each line with ``ok`` or ``error: ...``."""
        self.sock.sendall(line.encode() + b"\n")
        return self.reader.readline().strip()

    def close(self):
        self.reader.close()
        self.sock.close()


@pytest.mark.slow
def test_kiosk_under_a_notify_socket(notify_socket, tmp_path):
    control = os.path.join(notify_socket.dir, "control")
    env = dict(os.environ)
    env.update(
        SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
        NOTIFY_SOCKET=notify_socket.name, WATCHDOG_USEC="2000000",
        BACKSTEP_DB=str(tmp_path / "backstep.db"), BACKSTEP_CONFIG=str(tmp_path / "none.toml"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("WATCHDOG_PID", None)
    env.pop("JOURNAL_STREAM", None)
    (tmp_path / "none.toml").write_text("# all defaults but the re-arm debounce\n[gpio]\nrearm_debounce_s = 0\n")
    proc = subprocess.Popen(
        # --program opens the pre-flight checklist, so "tap start" has something to start.
        [sys.executable, "-m", "app", "run", "--sim", "--windowed", "--program", "beginner-flat",
         "--sim-control", control],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    client = None
    try:
        ready = notify_socket.first(lambda m: "READY=1" in m.splitlines(), timeout=60, proc=proc)
        assert ready, f"no READY=1; got {notify_socket.texts()!r}; stderr: {_stderr(proc)}"

        # Watchdog: the pings keep coming after READY (systemd asked for 2 s; the kiosk pings at half
        # of it). The gaps between them are printed by benchmarks/bench_timing.py, not asserted here.
        def pings():
            return [t for t, m in list(notify_socket.messages) if "WATCHDOG=1" in m.splitlines() and t >= ready[0]]

        assert wait_for(lambda: len(pings()) >= 3), f"{len(pings())} watchdog pings; got {notify_socket.texts()!r}"

        # A sensor change through --sim-control must change the STATUS= line.
        statuses_before = [m for _, m in notify_socket.messages if "STATUS=" in m]
        client = SimControl(control)
        assert client.send("lanyard clipped") == "ok"
        assert client.send("rails held") == "ok"
        assert client.send("tap start") == "ok"  # no re-arm debounce in this config: armed at once
        changed = notify_socket.first(
            lambda m: "STATUS=" in m and m not in statuses_before, timeout=10, proc=proc)
        assert changed, f"no new STATUS after tap start; got {notify_socket.texts()!r}"
        assert client.send("lanyard pulled") == "ok"
        estop = notify_socket.first(lambda m: "STATUS=emergency stop" in m, timeout=10, proc=proc)
        assert estop, f"no emergency-stop STATUS; got {[m for _, m in notify_socket.messages if 'STATUS' in m]!r}"

        # SIGTERM: STOPPING=1, then a clean exit.
        proc.send_signal(signal.SIGTERM)
        stopping = notify_socket.first(lambda m: "STOPPING=1" in m.splitlines(), timeout=10)
        assert stopping, f"no STOPPING=1; got {notify_socket.texts()[-5:]!r}"
        code = proc.wait(timeout=15)
        assert code == 0, f"exit code {code}; stderr: {_stderr(proc)}"
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if client:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stderr(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        return "(still running)"
    return (proc.stderr.read() if proc.stderr else "")[-2000:]


# ------------------------------------------------ resilience in the kiosk (app.shell.resilience)

def _start_kiosk(notify_socket, tmp_path, config_text: str) -> subprocess.Popen:
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    # INVOCATION_ID: as systemd starts the service (a start by hand never counts towards safe mode).
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=notify_socket.name,
               INVOCATION_ID="0f3c2d1e8a9b4c5d6e7f8091a2b3c4d5",
               BACKSTEP_DB=str(tmp_path / "state" / "backstep.db"), BACKSTEP_CONFIG=str(config))
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        env.pop(name, None)
    (tmp_path / "state").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "app", "run", "--sim", "--windowed"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_config_error_shows_a_service_screen_instead_of_a_crash_loop(notify_socket, tmp_path):
    proc = _start_kiosk(notify_socket, tmp_path, '[gpio]\nlanyard_pin = "seventeen"\n[bogus]\nx = 1\n')
    try:
        ready = notify_socket.first(lambda m: "READY=1" in m.splitlines(), timeout=60, proc=proc)
        assert ready, f"no READY=1 with a broken config: {_stderr(proc)}"
        service = notify_socket.first(lambda m: "STATUS=service:" in m, timeout=10, proc=proc)
        assert service, f"no service STATUS; got {notify_socket.texts()!r}"
        with pytest.raises(subprocess.TimeoutExpired):  # still up a second later: no crash loop
            proc.wait(timeout=1.0)
    finally:
        code = _stop(proc)
    assert code == 0


@pytest.mark.slow
def test_two_failed_starts_give_safe_mode(notify_socket, tmp_path):
    from app.shell.resilience import COUNTER_NAME

    (tmp_path / "state").mkdir()
    counter = tmp_path / "state" / COUNTER_NAME
    counter.write_text("2\n")  # two starts that never reached READY
    proc = _start_kiosk(notify_socket, tmp_path, '[treadmill]\nmode = "csafe"\n')
    try:
        ready = notify_socket.first(lambda m: "READY=1" in m.splitlines(), timeout=60, proc=proc)
        assert ready, f"no READY=1: {_stderr(proc)}"
        assert notify_socket.first(lambda m: "STATUS=" in m and "safe mode" in m, timeout=10, proc=proc), \
            f"no safe-mode STATUS; got {notify_socket.texts()!r}"
        # READY reached: the next start is normal
        assert wait_for(lambda: counter.read_text().strip() == "0"), counter.read_text()
    finally:
        code = _stop(proc)
    assert code == 0
