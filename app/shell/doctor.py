"""The station checks behind ``backstep doctor``: each returns :class:`Check` records saying, in
plain words, what was found and, for a problem, what to do.

These are the checks the shell layer can make by itself (config, pins, live sensors, treadmill link,
database, staff PIN, assets). The sound, speech and hub checks need the UI and the hub, so
:mod:`app.kiosk.doctor` adds them and runs the whole list.

Nothing here moves the belt: the treadmill check only asks the treadmill what it is doing.
"""

from __future__ import annotations

import grp
import os
import sqlite3
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..access import database_problem, user_name
from ..config import Config, ConfigError, default_config_path, load_config
from ..paths import assets_dir, default_db_path
from .db_check import damage_marked, verdict
from .devices import attach_sensors
from hardware.gpio import NoGpio, make_pin_factory


OK, PROBLEM, SKIPPED = "OK", "PROBLEM", "SKIPPED"

#: BCM numbers on the 40-pin header (every Pi since the B+). GPIO 0 and 1 are kept for the HAT ID
#: EEPROM (Raspberry Pi HAT specification), so they are not offered for switches.
HEADER_GPIOS = range(2, 28)
RESERVED_GPIOS = {0: "ID_SD (HAT EEPROM)", 1: "ID_SC (HAT EEPROM)"}
#: Seconds to wait for the treadmill to answer a probe (docs/safety.md, rule 5: a silent link is noticed within 3 s).
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    check: str
    status: str
    message: str

    def line(self) -> str:
        return f"{self.status:<8} {self.check}: {self.message}"



# -- whose files ------------------------------------------------------------------------------------
def whose_config(path: Path) -> str:
    """Says whether *path* is the config the installed kiosk reads (an admin must check THAT one)."""
    if not paths.installed():
        return f"{user_name()}'s config; no installed station on this machine"
    if _same(path, paths.APPLIANCE_CONFIG):
        return "the kiosk's config"
    return f"NOT the kiosk's config: the installed kiosk reads {paths.APPLIANCE_CONFIG}"


def whose_database(path: Path, config: Config) -> str:
    if not paths.installed():
        return f"{user_name()}'s database; no installed station on this machine"
    kiosk = Path(config.store.db_path) if config.store.db_path else paths.APPLIANCE_STATE_DIR / "backstep.db"
    if _same(path, kiosk):
        return "the kiosk's database"
    return f"NOT the kiosk's database: the installed kiosk uses {kiosk}"


def _same(a: Path, b: Path) -> bool:
    return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


# -- config ----------------------------------------------------------------------------------------
def config_check(path: str | None, checks: list[Check]) -> Config:
    target = Path(path) if path else default_config_path()
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            checks.append(Check("config", PROBLEM, problem))
        checks.append(Check("config", SKIPPED, f"checked {target} ({whose_config(target)}); the checks below "
                                               "use the default settings until the config loads"))
        return Config()
    if config.source == "(defaults)":
        checks.append(Check("config", OK, f"no config file at {target}; using the defaults (write one from "
                                          "deploy/config.example.toml to set pins and the treadmill)"))
    else:
        checks.append(Check("config", OK, f"{config.source} loads ({whose_config(Path(config.source))})"))
    return config


# -- pins ------------------------------------------------------------------------------------------
def pin_checks(config: Config) -> list[Check]:
    gpio = config.gpio
    uses: list[tuple[str, int]] = [("lanyard_pin", gpio.lanyard_pin)]
    uses += [(f"rail_pins[{i}]", pin) for i, pin in enumerate(gpio.rail_pins)]
    if gpio.belt_pulse_pin is not None:
        uses.append(("belt_pulse_pin", gpio.belt_pulse_pin))
    checks: list[Check] = []
    for option, pin in uses:
        if pin in RESERVED_GPIOS:
            checks.append(Check("pins", PROBLEM, f"[gpio] {option} = {pin}: GPIO{pin} is {RESERVED_GPIOS[pin]}; "
                                                 "wire the switch to another pin and change the config"))
        elif pin not in HEADER_GPIOS:
            checks.append(Check("pins", PROBLEM, f"[gpio] {option} = {pin}: not a GPIO on the Pi's header; "
                                                 f"use a BCM number from {HEADER_GPIOS.start} to {HEADER_GPIOS.stop - 1}"))
    seen: dict[int, list[str]] = {}
    for option, pin in uses:
        seen.setdefault(pin, []).append(option)
    for pin, options in seen.items():
        if len(options) > 1:
            checks.append(Check("pins", PROBLEM, f"GPIO{pin} is used by {' and '.join(options)}; "
                                                 "give each switch its own pin in [gpio]"))
    if len(gpio.rail_pins) > 2:
        checks.append(Check("pins", PROBLEM, f"[gpio] rail_pins lists {len(gpio.rail_pins)} pins; a treadmill has "
                                             "one or two rails: list one pin per rail"))
    for option, value, what in (("lanyard_active_when", gpio.lanyard_active_when, "lanyard pulled"),
                                ("rail_active_when", gpio.rail_active_when, "rails released")):
        if value != "closed":
            checks.append(Check("wiring", PROBLEM, f"[gpio] {option} = \"{value}\" is not fail-safe: a broken wire "
                                                   f"would not read \"{what}\"; wire the switch so it is closed in "
                                                   f"the safe-to-go position and set {option} = \"closed\""))
    if not checks:
        listed = ", ".join(f"{option} GPIO{pin}" for option, pin in uses)
        checks.append(Check("pins", OK, f"{listed}: valid and unique; wiring is fail-safe"))
    return checks


# -- live sensors ----------------------------------------------------------------------------------
def sensor_checks(config: Config, station=None) -> list[Check]:
    if station is not None:
        factory, where = station.pin_factory, "simulated pins"
    else:
        try:
            factory, where = make_pin_factory(config.gpio.pin_factory), "GPIO"
        except NoGpio as exc:
            if config.gpio.pin_factory:
                return [Check("sensors", PROBLEM, f"[gpio] pin_factory = \"{config.gpio.pin_factory}\" does not "
                                                  f"load ({exc}); install it (pip install lgpio) or leave it empty")]
            chips = gpio_chips()
            if chips:
                return [Check("sensors", PROBLEM, f"this machine has GPIO ({chips[0]}) but no pin library can use "
                                                  f"it ({exc}); {gpio_fix(chips)}")]
            return [Check("sensors", SKIPPED, "no GPIO here: skipped (use --sim to try the simulated station)")]
    try:
        sensors = attach_sensors(config, lambda event: None, pin_factory=factory)
    except Exception as exc:  # noqa: BLE001 - every pin library fails in its own words
        text = str(exc)
        hint = ("the pins are in use: is the station running? stop it (sudo systemctl stop backstep) and "
                "run doctor again" if "busy" in text.lower() or "in use" in text.lower()
                else "check [gpio] and that this user may use GPIO (group gpio)")
        return [Check("sensors", PROBLEM, f"cannot read the pins ({text}); {hint}")]
    try:
        checks = _read_sensors(config, sensors, where, hints=station is None)
        if station is not None:
            checks.extend(_exercise(config, station, sensors))
        return checks
    finally:
        sensors.close()


def gpio_chips(dev: Path = Path("/dev")) -> list[Path]:
    """The GPIO character devices of this machine (a Pi has /dev/gpiochip0 and more)."""
    return sorted(dev.glob("gpiochip*"))


def gpio_fix(chips: list[Path]) -> str:
    """What keeps the pin libraries off GPIO that is there, in words."""
    if not all(os.access(chip, os.R_OK | os.W_OK) for chip in chips):
        try:
            group = grp.getgrgid(chips[0].stat().st_gid).gr_name
        except (KeyError, OSError):
            group = "gpio"
        return f"add the user to the {group} group: sudo usermod -aG {group} $USER (then log in again)"
    return "install the Pi extras into the station's venv: pip install 'backstep[pi]' (lgpio)"


def _read_sensors(config: Config, sensors, where: str, hints: bool) -> list[Check]:
    """What the switches read right now. Reading "pulled"/"released" is not a problem in itself
    (nobody may be on the treadmill); with *hints* it says how to tell a person from a broken wire."""
    lanyard = sensors.lanyard.reads_clipped
    rails = sensors.rails.reads_held
    lanyard_hint = "" if lanyard or not hints else ("; clip the key and run doctor again: if it still reads "
                                                    "pulled, check the switch and its wire")
    checks = [Check("lanyard", OK, f"reads {'clipped' if lanyard else 'pulled'} on {sensors.lanyard.pins[0]} "
                                   f"({where}){lanyard_hint}")]
    states = ", ".join(f"{pin} {'held' if held else 'released'}" for pin, held in zip(sensors.rails.pins, rails))
    rails_hint = "" if all(rails) or not hints else ("; grip the rails and run doctor again: a rail that still "
                                                     "reads released has a switch or wire to check")
    checks.append(Check("rails", OK, f"{states} ({where}; held means {config.gpio.rails_held_means} rails)"
                        f"{rails_hint}"))
    if sensors.belt is not None:
        checks.append(Check("belt sensor", OK, f"on {sensors.belt.pin}; walk the belt to see a speed in the kiosk"))
    return checks


def _exercise(config: Config, station, sensors) -> list[Check]:
    """On the simulated station, act as a person would and check the adapters see it."""
    wait = config.gpio.rearm_debounce_s + 1.0
    station.clip_lanyard()
    station.hold_rails()
    deadline = time.monotonic() + wait
    while not (sensors.lanyard.clipped and sensors.rails.held) and time.monotonic() < deadline:
        time.sleep(0.01)
    armed = sensors.lanyard.clipped and sensors.rails.held
    station.pull_lanyard()
    station.release_rails()
    stopped = not sensors.lanyard.clipped and not sensors.rails.held
    if armed and stopped:
        return [Check("simulation", OK, f"clipping the key and gripping the rails re-armed after the "
                                        f"{config.gpio.rearm_debounce_s:g} s debounce; pulling and letting go "
                                        "read at once")]
    return [Check("simulation", PROBLEM, "the simulated sensors did not follow the simulated person "
                                         f"(armed={armed}, stopped={stopped}); report this as a bug")]


# -- treadmill -------------------------------------------------------------------------------------
def treadmill_check(config: Config, station=None) -> Check:
    section = config.treadmill
    if section.mode != "csafe":
        return Check("treadmill", SKIPPED, "cue mode: no treadmill link to check (set [treadmill] mode = \"csafe\" "
                                           "for a treadmill with a serial CSAFE port)")
    from hardware.treadmill.link import LinkError, probe

    port = station.treadmill_port if station is not None else section.port
    if "://" not in port:
        problem = port_problem(port)
        if problem:
            return Check("treadmill", PROBLEM, problem)
    try:
        answer = probe(port, PROBE_TIMEOUT_S, baudrate=section.baudrate)
    except LinkError as exc:
        return Check("treadmill", PROBLEM, str(exc))
    speed = answer.get("speed_kmh")
    return Check("treadmill", OK, f"{port} answers: {answer.get('state')}, "
                                  f"{'speed unknown' if speed is None else f'{speed:g} km/h'}, "
                                  f"incline {answer.get('incline_pct')} %")


def port_problem(port: str) -> str | None:
    """What stops this user opening *port*, in words; ``None`` when nothing obvious does."""
    path = Path(port)
    if not path.exists():
        return (f"{port}: no such serial port; plug in the USB serial adapter, check `ls /dev/serial/by-id/` "
                "and set [treadmill] port (the udev rule in deploy/ names it /dev/treadmill)")
    if not os.access(path, os.R_OK | os.W_OK):
        try:
            group = grp.getgrgid(path.stat().st_gid).gr_name
        except (KeyError, OSError):
            group = "dialout"
        return (f"{port}: permission denied; add the user to the {group} group: "
                f"sudo usermod -aG {group} $USER (then log in again)")
    if not stat.S_ISCHR(path.stat().st_mode):
        return f"{port}: not a serial device; set [treadmill] port to the adapter, e.g. /dev/ttyUSB0"
    return None


# -- database --------------------------------------------------------------------------------------
def database_check(config: Config, db: str | None = None) -> Check:
    path = Path(db) if db else default_db_path(config.store.db_path)
    check = _database_check(config, path)
    return Check(check.check, check.status, f"{check.message} ({whose_database(path, config)})")


def _database_check(config: Config, path: Path) -> Check:
    blocked = database_problem(path, write=True)
    if blocked:
        return Check("database", PROBLEM, blocked)
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            return Check("database", PROBLEM, f"{path}: not writable by this user; give the station's user the "
                                              f"file (sudo chown $USER {path})")
        if not os.access(path.parent, os.W_OK):
            return Check("database", PROBLEM, f"{path.parent}: folder not writable; SQLite needs to write its "
                                              "journal beside the database: give the station's user the folder")
        marked = damage_marked(path)
        if marked is not None:  # the kiosk's full check after READY=1 found it (app/shell/db_check.py)
            return Check("database", PROBLEM, f"{path}: found damaged by the station's full check ({marked}); its "
                                              "next start moves it aside and begins a new one (nothing is deleted)")
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                # The store's own verdict (every page, and not from a newer Backstep), so the doctor
                # and a start never disagree about a file.
                problem = verdict(conn, full=True)
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0] if "sessions" in tables else 0
        except sqlite3.DatabaseError as exc:
            return Check("database", PROBLEM, f"{path}: not a readable SQLite database ({exc}); the station moves "
                                              "a damaged file aside when it starts: start it, or move the file away")
        if problem is not None:
            return Check("database", PROBLEM, f"{path}: {problem}; the station moves it aside when it starts and "
                                              "begins a new one (nothing is deleted)")
        return Check("database", OK, f"{path}: writable, intact, {sessions} session{'s' if sessions != 1 else ''}")
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        if folder.exists():
            return Check("database", PROBLEM, f"{path}: cannot be created: {folder} is a file, not a folder; "
                                              "set [store] db_path or BACKSTEP_DB to a path in a folder")
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        return Check("database", PROBLEM, f"{path}: cannot be created ({folder} is not writable by this user); "
                                          "set [store] db_path or BACKSTEP_DB to a writable place")
    return Check("database", OK, f"{path}: not created yet; it will be created at the first start")


# -- staff PIN -------------------------------------------------------------------------------------
def pin_check(config: Config, db: str | None = None, *, sim: bool = False) -> Check:
    """No installed station may keep the factory PIN (docs/config.md, "The staff PIN")."""
    from .staff_pin import pin_file, staff_pin_hash

    if config.kiosk.staff_pin_hash:
        return Check("staff-pin", OK, f"set in [kiosk] staff_pin_hash of {config.source}")
    stored = pin_file(Path(db) if db else default_db_path(config.store.db_path))
    if staff_pin_hash(config, stored.parent / "backstep.db"):
        return Check("staff-pin", OK, f"set on the kiosk ({stored})")
    if sim:
        return Check("staff-pin", SKIPPED, "the factory PIN 0000: fine for the simulated station only")
    blocked = database_problem(stored, write=False)
    if blocked:
        return Check("staff-pin", PROBLEM, f"cannot tell whether the kiosk set one: {blocked}")
    return Check("staff-pin", PROBLEM, "still the factory PIN 0000, which everyone knows; set one: sudo backstep "
                                       "staff-pin --write (or on the kiosk, which asks at its first start)")


# -- assets ----------------------------------------------------------------------------------------
def asset_checks(config: Config) -> list[Check]:
    from .library import load_library

    root = assets_dir()
    checks: list[Check] = []
    for folder, pattern, what in (("fonts", "*.ttf", "fonts"), ("sounds", "*.wav", "sounds")):
        found = sorted((root / folder).glob(pattern))
        if found:
            checks.append(Check("assets", OK, f"{len(found)} {what} in {root / folder}"))
        else:
            checks.append(Check("assets", PROBLEM, f"no {what} in {root / folder}; reinstall Backstep or set "
                                                   "BACKSTEP_ASSETS to its assets folder"))
    library = load_library(config)
    if not library.programs:
        checks.append(Check("programs", PROBLEM, f"no program loads from {root / 'programs'}; reinstall Backstep "
                                                 "or set BACKSTEP_ASSETS"))
    else:
        checks.append(Check("programs", OK, f"{len(library.programs)} programs load"))
    if library.skipped:
        checks.append(Check("programs", PROBLEM, library.skipped_note()))
    for source in library.broken:
        first = library.problems_for(source)[0]
        checks.append(Check("programs", PROBLEM, f"{first}; fix it (backstep programs check {source}) or remove it"))
    return checks
