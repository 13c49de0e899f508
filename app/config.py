"""Station configuration: one TOML file -> frozen dataclasses.

Like Klipper, every problem names the section and the option, and all problems are reported at
once (:class:`ConfigError` carries the list). A missing file means all defaults, which is what the
simulated station and the tests use. ``deploy/config.example.toml`` documents every option.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .core.caps import Caps
from .core.safety import SafetyConfig
from .core.units import to_kmh
from .errors import UserError


class ConfigError(UserError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems in the config:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class StationSection:
    id: str = "backstep-1"           # names the export folder: Backstep/<id>/
    name: str = "Backstep station"
    units: str = "mph"               # default units for guests: mph | kmh


@dataclass(frozen=True)
class GpioSection:
    """BCM pin numbers. Inputs use the Pi's internal pull-ups; a closed switch pulls to ground."""

    lanyard_pin: int = 17
    #: The safety key's switch is closed while the key is in (so a broken wire reads "pulled").
    lanyard_active_when: str = "closed"   # closed | open
    rail_pins: tuple[int, ...] = (27, 22)
    #: "both" or "either": what "rails held" means with two rail sensors.
    rails_held_means: str = "both"
    rail_active_when: str = "closed"
    belt_pulse_pin: int | None = None
    roller_circumference_mm: float = 150.0
    pulses_per_revolution: int = 1
    #: Re-arming (lanyard clipped, rails held) is debounced; the way to "stopped" never is.
    rearm_debounce_s: float = 0.3
    pin_factory: str = ""                 # "" lets gpiozero choose (lgpio on a Pi 5)


@dataclass(frozen=True)
class TreadmillSection:
    #: "csafe": a serial CSAFE link; "cue": no link, the person sets the speed (cue mode).
    mode: str = "cue"
    port: str = "/dev/treadmill"
    baudrate: int = 9600
    poll_interval_s: float = 0.5
    #: A link silent this long is lost (issue 3: noticed within 3 seconds).
    silence_timeout_s: float = 2.5
    #: Ramp for speed targets, km/h per second (CSAFE treadmills ramp too; this keeps jumps small).
    ramp_kmh_per_s: float = 1.0


@dataclass(frozen=True)
class StoreSection:
    db_path: str = ""  # "" -> $BACKSTEP_DB, then the platform default (see app.paths)


@dataclass(frozen=True)
class ExportSection:
    mount_dir: str = "/media/backstep"
    automatic: bool = False
    require_pin: bool = True
    pseudonymize_members: bool = False


@dataclass(frozen=True)
class KioskSection:
    fullscreen: bool = True
    #: PBKDF2 hash of the staff PIN, as written by ``backstep staff-pin``; "" = PIN 0000 until set.
    staff_pin_hash: str = ""
    sound: bool = True
    speech: bool = True
    #: Percent of full volume for the chimes and speech, 0-100 (staff change it on the Settings page).
    volume: int = 80


@dataclass(frozen=True)
class Config:
    station: StationSection = field(default_factory=StationSection)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    gpio: GpioSection = field(default_factory=GpioSection)
    treadmill: TreadmillSection = field(default_factory=TreadmillSection)
    store: StoreSection = field(default_factory=StoreSection)
    export: ExportSection = field(default_factory=ExportSection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    source: str = "(defaults)"


_SECTIONS = {
    "station": StationSection,
    "gpio": GpioSection,
    "treadmill": TreadmillSection,
    "store": StoreSection,
    "export": ExportSection,
    "kiosk": KioskSection,
}
_CHOICES = {
    ("station", "units"): ("mph", "kmh"),
    ("gpio", "lanyard_active_when"): ("closed", "open"),
    ("gpio", "rail_active_when"): ("closed", "open"),
    ("gpio", "rails_held_means"): ("both", "either"),
    ("treadmill", "mode"): ("csafe", "cue"),
}
_SAFETY_SECONDS = (
    "rails_grace_s", "rails_hold_s", "resume_countdown_s", "start_countdown_s",
    "turnaround_s", "phase_warning_s", "cooldown_s",
)
_SAFETY_CAPS = ("backward_speed", "forward_speed", "backward_incline", "forward_incline")


def default_config_path() -> Path:
    env = os.environ.get("BACKSTEP_CONFIG")
    if env:
        return Path(env)
    appliance = Path("/etc/backstep/config.toml")
    if appliance.exists():
        return appliance
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backstep" / "config.toml"


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the config at *path* (or the default place). A missing default file means defaults;
    a missing file that was asked for by name is an error."""
    explicit = path is not None or bool(os.environ.get("BACKSTEP_CONFIG"))
    target = Path(path) if path is not None else default_config_path()
    if not target.exists():
        if explicit:
            raise ConfigError([f"{target}: config file not found; check the path or unset BACKSTEP_CONFIG"])
        return Config()
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{target}: cannot read the config ({exc}); check its permissions"]) from None
    return parse_config(text, str(target))


def parse_config(text: str, source: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: TOML syntax: {exc}"]) from None
    problems: list[str] = []
    built: dict[str, Any] = {}
    for section, value in data.items():
        if section not in _SECTIONS and section != "safety":
            problems.append(f"{source}: [{section}]: unknown section; allowed: {', '.join(['safety', *_SECTIONS])}")
            continue
        if not isinstance(value, dict):
            problems.append(f"{source}: {section}: must be a [{section}] table")
            continue
        if section == "safety":
            built["safety"] = _safety(value, source, problems)
            continue
        built[section] = _section(section, _SECTIONS[section], value, source, problems)
    if problems:
        raise ConfigError(problems)
    return Config(source=source, **built)


def _section(name: str, cls, values: dict, source: str, problems: list[str]):
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            problems.append(f"{source}: [{name}] {key}: unknown option; allowed: {', '.join(known)}")
            continue
        expected = getattr(defaults, key)
        checked = _check_type(name, key, value, expected, known[key].type, source, problems)
        if checked is _BAD:
            continue
        choices = _CHOICES.get((name, key))
        if choices and checked not in choices:
            problems.append(f"{source}: [{name}] {key}: {checked!r} is not allowed; use one of {', '.join(choices)}")
            continue
        kwargs[key] = checked
    return cls(**kwargs)


_BAD = object()


def _check_type(section: str, key: str, value: Any, default: Any, annotation: str, source: str, problems: list[str]):
    where = f"{source}: [{section}] {key}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: must be true or false")
        return _BAD
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and value:
            return tuple(value)
        problems.append(f"{where}: must be a list of pin numbers, e.g. [27, 22]")
        return _BAD
    if isinstance(default, float) or "float" in str(annotation):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        problems.append(f"{where}: must be a number of 0 or more")
        return _BAD
    if isinstance(default, int) or "int" in str(annotation):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        problems.append(f"{where}: must be a whole number of 0 or more")
        return _BAD
    if isinstance(value, str):
        return value
    problems.append(f"{where}: must be a text in quotes")
    return _BAD


def _safety(values: dict, source: str, problems: list[str]) -> SafetyConfig:
    base = SafetyConfig()
    kwargs: dict[str, Any] = {}
    units = values.get("units", "mph")
    if units not in ("mph", "kmh"):
        problems.append(f"{source}: [safety] units: {units!r} is not allowed; use mph or kmh")
        units = "mph"
    caps = {}
    for key, value in values.items():
        where = f"{source}: [safety] {key}"
        if key == "units":
            continue
        if key not in _SAFETY_SECONDS and key not in _SAFETY_CAPS:
            problems.append(f"{where}: unknown option; allowed: units, {', '.join(_SAFETY_SECONDS + _SAFETY_CAPS)}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"{where}: must be a number of 0 or more")
            continue
        if key in _SAFETY_CAPS:
            if value <= 0:
                problems.append(f"{where}: must be above 0")
                continue
            caps[key] = float(value)
        else:
            if value > 60:
                problems.append(f"{where}: {value} s is too long for a safety timer; use at most 60")
                continue
            kwargs[key] = float(value)
    default_caps = base.caps
    kwargs["caps"] = Caps(
        backward_speed_kmh=to_kmh(caps["backward_speed"], units) if "backward_speed" in caps else default_caps.backward_speed_kmh,
        forward_speed_kmh=to_kmh(caps["forward_speed"], units) if "forward_speed" in caps else default_caps.forward_speed_kmh,
        backward_incline_pct=caps.get("backward_incline", default_caps.backward_incline_pct),
        forward_incline_pct=caps.get("forward_incline", default_caps.forward_incline_pct),
    )
    return SafetyConfig(**kwargs)
