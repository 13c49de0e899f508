"""Staying up on a kiosk nobody watches: a service screen for config errors, and safe mode.

Two failure loops are cut here:

* **A broken config.** Raising :class:`~app.config.ConfigError` at start makes systemd restart the
  kiosk until it gives up, with a black screen. Instead :func:`load_config_or_service` returns the
  defaults *and* a :class:`ServiceScreen` with every message; the run command shows that screen
  (no program can start from it), reports READY so systemd stops restarting, and the STATUS line
  says what is wrong.
* **A start that never gets going.** If the kiosk died before READY twice in a row (a treadmill that
  wedges the serial driver, a link that hangs start-up), the next start is in *safe mode*: cue mode,
  so no command is ever sent to the treadmill, with a banner saying why. A small counter file in the
  state directory is incremented at start and reset at READY (:class:`StartupGuard`). Only starts
  made by systemd count (:func:`started_by_systemd`): staff running ``backstep run`` by hand to
  debug, and stopping it with Ctrl+C, must not push the live service into safe mode.

Nothing here touches pygame or hardware; the run command calls it and draws the results.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..config import Config, ConfigError, load_config
from ..core.record import Record, replace

#: Starts that never reached READY before safe mode is used: one bad start may be a power cut,
#: two in a row are a pattern.
SAFE_MODE_AFTER = 2
COUNTER_NAME = "startup-attempts"


class ServiceScreen(Record):
    """What the kiosk shows instead of crashing when it cannot run safely."""

    title: str
    messages: tuple[str, ...]
    hint: str

    @property
    def status_line(self) -> str:
        """The systemd STATUS= line for this screen."""
        count = len(self.messages)
        return f"service: {count} config problem{'s' if count != 1 else ''} ({self.title.lower()})"[:120]


def service_screen_for(error: ConfigError, path: str | os.PathLike | None = None) -> ServiceScreen:
    where = str(path) if path else "the config file"
    return ServiceScreen(
        title="Configuration error",
        messages=tuple(error.problems),
        hint=f"Staff: fix {where}, then restart the station (sudo systemctl restart backstep). "
             "`backstep doctor` checks the file.",
    )


def load_config_or_service(path: str | os.PathLike | None = None) -> tuple[Config, ServiceScreen | None]:
    """The config, or the defaults plus a service screen listing every problem.

    The defaults are only used to draw the service screen; the run command must not start programs
    while a screen is returned.
    """
    try:
        return load_config(path), None
    except ConfigError as exc:
        return Config(), service_screen_for(exc, path or os.environ.get("BACKSTEP_CONFIG") or _default_path())


def _default_path() -> str:
    from ..config import default_config_path

    return str(default_config_path())


class StartupCheck(Record):
    safe_mode: bool
    failed_starts: int           # starts before this one that never reached READY
    banner: str = ""             # shown on every screen in safe mode
    status_line: str = ""        # appended to STATUS= in safe mode


class StartupGuard:
    """Counts starts that never reached READY, in ``<state_dir>/startup-attempts``.

    :meth:`begin` at start (increments), :meth:`reached_ready` once READY=1 is sent (resets). The file
    is replaced atomically (write, fsync, rename), so a power cut leaves the old or the new count.
    Where the state directory cannot be written (a read-only desktop checkout) the guard is off.
    """

    def __init__(self, state_dir: str | os.PathLike, threshold: int = SAFE_MODE_AFTER):
        self.path = Path(state_dir) / COUNTER_NAME
        self.threshold = threshold
        self.enabled = True

    def read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError):
            return self.threshold  # unreadable: assume the worst, which is the safe side
        try:
            return max(int(text), 0)
        except ValueError:
            return self.threshold

    def _write(self, value: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{value}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def begin(self) -> StartupCheck:
        failed = self.read()
        try:
            self._write(failed + 1)
        except OSError:
            self.enabled = False
            return StartupCheck(False, 0)
        if failed >= self.threshold:
            return StartupCheck(
                True, failed,
                banner=f"SAFE MODE: the station failed to start {failed} times. The treadmill is not "
                       "controlled; set the speed on its console. Staff: check `backstep doctor`.",
                status_line="safe mode",
            )
        return StartupCheck(False, failed)

    def reached_ready(self) -> None:
        if not self.enabled:
            return
        try:
            self._write(0)
        except OSError:
            pass  # the next start may then be in safe mode, which is the safe side


def apply_safe_mode(config: Config) -> Config:
    """The same config in cue mode: no command ever goes to the treadmill."""
    return replace(config, treadmill=replace(config.treadmill, mode="cue"))


def state_dir_for(db_path: str | os.PathLike) -> Path:
    """The counter lives beside the database: /var/lib/backstep on the appliance."""
    return Path(db_path).parent


class Startup(Record, frozen=False):
    """Everything the run command needs from this module, from one call to :func:`begin_startup`.

    Use: ``startup = begin_startup(args.config, args.db)``; run with ``startup.config``; if
    ``startup.service`` is set, show that screen and start no program; draw ``startup.banner`` on
    every screen when set; send ``startup.status_line(view.status_line)`` as STATUS; call
    ``startup.ready()`` right after READY=1.
    """

    config: Config
    service: ServiceScreen | None
    check: StartupCheck
    guard: StartupGuard | None

    @property
    def safe_mode(self) -> bool:
        return self.check.safe_mode

    @property
    def banner(self) -> str:
        return self.check.banner

    def status_line(self, view_status: str) -> str:
        if self.service is not None:
            return self.service.status_line
        if self.check.safe_mode:
            return f"{view_status} [safe mode]"
        return view_status

    def ready(self) -> None:
        if self.guard is not None:
            self.guard.reached_ready()


def started_by_systemd(environ: Mapping[str, str] | None = None) -> bool:
    """True for the kiosk service started by systemd, False for a start by hand.

    systemd gives every unit it starts an ``INVOCATION_ID``, and a ``Type=notify`` unit (ours) a
    ``NOTIFY_SOCKET`` (systemd.exec(5)). A shell over SSH has neither; a terminal that is itself a
    user service has only the first; a test or a debugging session may make a notify socket of its own.
    """
    environ = os.environ if environ is None else environ
    return bool(environ.get("INVOCATION_ID")) and bool(environ.get("NOTIFY_SOCKET"))


def begin_startup(config_path: str | os.PathLike | None = None,
                  db_path: str | os.PathLike | None = None,
                  environ: Mapping[str, str] | None = None) -> Startup:
    """Load the config (or a service screen), count this start, and choose safe mode.

    A start by hand (see :func:`started_by_systemd`) is neither counted nor put in safe mode, and its
    READY does not reset the service's count: whoever runs it is there, watching.
    """
    from ..paths import default_db_path

    config, service = load_config_or_service(config_path)
    if not started_by_systemd(environ):
        return Startup(config, service, StartupCheck(False, 0), None)
    db = Path(db_path) if db_path else default_db_path(config.store.db_path)
    guard = StartupGuard(state_dir_for(db))
    check = guard.begin()
    if check.safe_mode:
        config = apply_safe_mode(config)
    return Startup(config, service, check, guard if guard.enabled else None)
