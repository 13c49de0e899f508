"""``--sim-control PATH``: drive the simulated station from a script over a Unix stream socket.

One command per line, the simulation-script commands (docs/commands.md) without the time column::

    $ printf 'lanyard clipped\\nrails held\\ntap start\\n' | nc -U /run/user/1000/backstep.sock
    ok
    ok
    ok

Hardware commands (``lanyard``, ``rails``, ``link``) go to the simulated station, so they travel
through the mock pins, the real gpiozero adapters and the CSAFE link like a person's hands would.
``tap ...`` commands are the touchscreen: they are posted as events. Each line gets one answer line,
``ok`` or ``error: <what is wrong>``. ``status`` answers ``ok <the station's status line>`` when the
server was given a way to read it; ``end`` answers ``ok`` and closes the connection (and calls
*on_end*, when given, so the kiosk can quit).

A runaway or hostile client cannot wear the station down: at most MAX_CONNECTIONS are served (one
more is refused in one line), a silent one is closed after IDLE_TIMEOUT_S, lines are bounded and
errors echo at most MAX_ECHO_CHARS of them, and taps the station has no room for are answered with
an error and slow that client down.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from app.core.events import Event, PainScored
from app.errors import UserError
from hardware.sim import SimError

from .script import HARDWARE, parse_command
from .script import TAPS  # ``tap WORD`` -> its touchscreen event, as simulation scripts use it

log = logging.getLogger(__name__)

#: A line longer than this is not a command; refusing it keeps a runaway client from filling memory.
MAX_LINE_BYTES = 256
#: A command (comment stripped) longer than this is not one; errors echo at most this much of it.
MAX_ECHO_CHARS = 40
#: Connections served at once. More is a runaway script (each connection costs a thread); the
#: extra one gets a one-line refusal and is closed.
MAX_CONNECTIONS = 8
#: A connection that sends nothing for this long is told so and closed, freeing its place. A
#: script that waits longer between commands connects again.
IDLE_TIMEOUT_S = 600.0
#: After a tap the station dropped (its input lane is full), this connection waits this long before
#: reading on: a flooding client is slowed to the pace the loop takes taps at, and the CPU it
#: would burn stays free for the safety loop.
BUSY_PAUSE_S = 0.02


def _echo(text: str) -> str:
    """At most MAX_ECHO_CHARS of what a client sent, quoted, for an error line."""
    return repr(text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "…")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Connections are shut down in SimControlServer.close(); joining them here could wait on a
    # client that never hangs up.
    block_on_close = False
    owner: "SimControlServer"

    def process_request(self, request, client_address) -> None:
        # Counted here, on the accepting thread, before a handler thread exists for it.
        if not self.owner._admit(request):
            try:
                request.sendall(f"error: this station serves {self.owner.max_connections} connections at once; "
                                "close one and connect again\n".encode())
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)


class SimControlServer:
    """A Unix stream socket at *path* that takes sim-control commands.

    :param path: where to create the socket. A stale socket left by a crash is replaced; a live
        one (another station listening) is an error.
    :param sim_station: a :class:`hardware.sim.SimulatedStation` (anything with ``apply(command)``).
    :param post_event: the main loop's thread-safe ``post(event)``; when it returns ``False`` (a
        tap dropped by a full input lane) the client is told so.
    :param status: returns the station's one-line status, for the ``status`` command.
    :param on_end: called on ``end``.
    :param settled: called after a sensor command, before answering ``ok`` (e.g. the sensors'
        ``wait_settled``); returns False if the change did not settle in time.
    :param max_connections: clients served at once; one more gets a one-line refusal.
    :param idle_timeout_s: a client silent this long (seconds) is told so and disconnected.

    Serves from its own threads after :meth:`start`; :meth:`close` stops them, disconnects the
    clients and removes the socket file.
    """

    def __init__(self, path: str | os.PathLike, sim_station, post_event: Callable[[Event], None], *,
                 status: Callable[[], str] | None = None, on_end: Callable[[], None] | None = None,
                 settled: Callable[[], bool] | None = None, max_connections: int = MAX_CONNECTIONS,
                 idle_timeout_s: float = IDLE_TIMEOUT_S):
        self.path = Path(path)
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        #: Waits until a sensor change has passed its re-arm debounce, so "ok" means the station
        #: has seen it and a script can send "tap start" right after "rails held".
        self.settled = settled
        self.sim_station = sim_station
        self.post_event = post_event
        self.status = status
        self.on_end = on_end
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> "SimControlServer":
        self._clear_stale_socket()
        handler = _handler_for(self)
        try:
            self._server = _Server(str(self.path), handler, bind_and_activate=False)
            self._server.owner = self
            self._server.server_bind()
            self._server.server_activate()
        except OSError as exc:
            raise UserError(f"--sim-control {self.path}: cannot create the socket ({exc.strerror or exc}); "
                            "choose a path in a folder you can write to") from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="backstep-sim-control", daemon=True)
        self._thread.start()
        return self

    def _clear_stale_socket(self) -> None:
        where = f"--sim-control {self.path}"
        if not self.path.parent.is_dir():
            raise UserError(f"{where}: the folder {self.path.parent} does not exist; create it or choose another path")
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise UserError(f"{where}: a file that is not a socket is in the way; remove it or choose another path")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink(missing_ok=True)  # left behind by a station that crashed
            return
        finally:
            probe.close()
        raise UserError(f"{where}: another station is already listening there; stop it or choose another path")

    def close(self) -> None:
        """Stop serving, disconnect every client and remove the socket file. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(2)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "SimControlServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- commands --------------------------------------------------------------------------------
    def handle_line(self, line: str) -> tuple[str, bool]:
        """Carry out one command line; return ``(answer, keep_connection_open)``."""
        text = line.split("#", 1)[0].strip()
        if not text:
            return "error: empty line; send a command such as 'rails held'", True
        if len(text) > MAX_ECHO_CHARS:
            return f"error: {_echo(text)} is too long for a command; send one such as 'rails held'", True
        if text.lower() == "status":
            if self.status is None:
                return "error: status is not available here", True
            return f"ok {self.status()}", True
        try:
            command = parse_command(text)
        except ValueError as exc:
            return f"error: {exc}", True
        if command.what == "end":
            if self.on_end is not None:
                self.on_end()
            return "ok", False
        if command.what in HARDWARE:
            try:
                self.sim_station.apply(command)
            except SimError as exc:
                return f"error: {exc}", True
            except Exception as exc:  # noqa: BLE001 - one line to the client, the details to the log
                log.exception("sim-control %r failed", text)
                return f"error: {command.text} failed ({type(exc).__name__}: {exc})", True
            if self.settled is not None and not self.settled():
                return f"error: {command.text}: the sensor did not settle; check the simulated wiring", True
            return "ok", True
        event = PainScored(command.arg, command.value) if command.what == "score" else TAPS[command.arg]()
        if self.post_event(event) is False:
            # The station's input lane is full (app.shell.inbox): say so rather than "ok".
            return f"error: {command.text} dropped: the station is busy with earlier taps; send it again", True
        return "ok", True

    def _admit(self, connection: socket.socket) -> bool:
        """Count *connection* in, unless MAX_CONNECTIONS are served already."""
        with self._lock:
            if len(self._connections) >= self.max_connections:
                return False
            self._connections.add(connection)
            return True

    def _leave(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


def _handler_for(server: SimControlServer) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = server.idle_timeout_s  # applied to the connection by StreamRequestHandler.setup

        def handle(self) -> None:
            try:
                while True:
                    try:
                        raw = self.rfile.readline(MAX_LINE_BYTES + 1)
                    except TimeoutError:
                        self._answer(f"error: idle for {server.idle_timeout_s:g} s (nothing received); closing "
                                     "this connection; connect again to send more")
                        return
                    if not raw:
                        return
                    if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                        start = _echo(raw[:MAX_ECHO_CHARS + 1].decode("utf-8", "replace"))
                        self._answer(f"error: line longer than {MAX_LINE_BYTES} bytes ({start}); "
                                     "send one command per line")
                        return
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        self._answer("error: not UTF-8 text; send plain text commands")
                        continue
                    answer, keep_open = server.handle_line(line)
                    self._answer(answer)
                    if answer.startswith("error: ") and " dropped: the station is busy" in answer:
                        time.sleep(BUSY_PAUSE_S)
                    if not keep_open:
                        return
            except OSError:
                return  # the client went away, or close() shut the connection
            finally:
                server._leave(self.connection)

        def _answer(self, text: str) -> None:
            self.wfile.write(text.encode("utf-8") + b"\n")
            self.wfile.flush()

    return Handler


def send_commands(path: str, commands: list[str], timeout: float = 5.0) -> list[str]:
    """Send *commands* to a running ``backstep run --sim --sim-control PATH``; return its answers."""
    answers = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(path)
        reader = client.makefile("r", encoding="utf-8")
        for command in commands:
            client.sendall(command.encode("utf-8") + b"\n")
            answers.append(reader.readline().strip())
    return answers


def _main(argv: list[str]) -> int:
    """``python -m app.shell.simcontrol SOCKET 'rails held' 'tap start' ...``: a client for scripts."""
    import sys

    if len(argv) < 2:
        print("usage: python -m app.shell.simcontrol SOCKET COMMAND [COMMAND ...]", file=sys.stderr)
        return 2
    try:
        answers = send_commands(argv[0], argv[1:])
    except OSError as exc:
        print(f"simcontrol: {argv[0]}: cannot talk to the station ({exc.strerror or exc}); "
              "is 'backstep run --sim --sim-control PATH' running?", file=sys.stderr)
        return 1
    for command, answer in zip(argv[1:], answers):
        print(f"{command}: {answer}")
    return 0 if all(a.startswith("ok") for a in answers) else 1


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
