"""Station configuration: one TOML file -> frozen records (app.core.record).

Like Klipper, every problem names the section and the option, and all problems are reported at
once (:class:`ConfigError` carries the list, one line each). A missing file means all defaults,
which is what the simulated station and the tests use.

Every option is declared once, in :data:`OPTIONS`: its kind, and for a number its unit and its
HARD range. A value outside the range is an error, never clamped: a config can lower the speed and
incline caps, never raise them past the ceilings below, and no timer can be zero, NaN, infinite or
hours long. ``docs/config.md`` lists every option with its range and source (a test keeps the two
in step); ``deploy/config.example.toml`` shows every option with its default.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from .core.caps import (
    DEFAULT_BACKWARD_INCLINE_PCT,
    DEFAULT_BACKWARD_SPEED_KMH,
    DEFAULT_FORWARD_INCLINE_PCT,
    DEFAULT_FORWARD_SPEED_KMH,
    Caps,
)
from .core.record import Record, field
from .core.safety import SafetyConfig
from .core.units import from_kmh, to_kmh, unit_label
from . import paths
from .errors import UserError

#: A config is a page of settings; anything this big is not one (and is not read into memory).
MAX_CONFIG_BYTES = 256 * 1024
#: Values echoed in a message are cut to this many characters.
ECHO_CHARS = 40


class ConfigError(UserError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems in the config:\n  " + "\n  ".join(problems))


class StationSection(Record):
    id: str = "backstep-1"           # names the export folder: Backstep/<id>/
    name: str = "Backstep station"
    units: str = "mph"               # default units for guests: mph | kmh


class GpioSection(Record):
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


class TreadmillSection(Record):
    #: "csafe": a serial CSAFE link; "cue": no link, the person sets the speed (cue mode).
    mode: str = "cue"
    port: str = "/dev/treadmill"
    baudrate: int = 9600
    poll_interval_s: float = 0.5
    #: A link silent this long is lost (docs/safety.md, rule 5: noticed within 3 seconds).
    silence_timeout_s: float = 2.5
    #: Ramp for speed targets, km/h per second (CSAFE treadmills ramp too; this keeps jumps small).
    ramp_kmh_per_s: float = 1.0


class StoreSection(Record):
    db_path: str = ""  # "" -> $BACKSTEP_DB, then the platform default (see app.paths)


class ExportSection(Record):
    mount_dir: str = "/media/backstep"
    automatic: bool = False
    require_pin: bool = True
    pseudonymize_members: bool = False


class KioskSection(Record):
    fullscreen: bool = True
    #: PBKDF2 hash of the staff PIN, as written by ``backstep staff-pin``; "" = no PIN set yet
    #: (the factory PIN 0000, which only a simulated station may keep: docs/config.md, [kiosk]).
    staff_pin_hash: str = ""
    sound: bool = True
    speech: bool = True
    #: Percent of full volume for the chimes and speech, 0-100 (staff change it on the Settings page).
    volume: int = 80


class HubSection(Record):
    """The clinic hub (docs/hub.md). Empty: this station works alone."""

    dsn: str = ""                 # the station's connection string from `backstep hub add-station`
    dsn_file: str = ""            # or a file holding it, readable by the kiosk's user only (0600)
    interval_s: float = 60.0      # seconds between sync passes when all is well


class Config(Record):
    station: StationSection = field(default_factory=StationSection)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    gpio: GpioSection = field(default_factory=GpioSection)
    treadmill: TreadmillSection = field(default_factory=TreadmillSection)
    store: StoreSection = field(default_factory=StoreSection)
    export: ExportSection = field(default_factory=ExportSection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    hub: HubSection = field(default_factory=HubSection)
    source: str = "(defaults)"


_SECTIONS = {
    "station": StationSection,
    "gpio": GpioSection,
    "treadmill": TreadmillSection,
    "store": StoreSection,
    "export": ExportSection,
    "kiosk": KioskSection,
    "hub": HubSection,
}

# -- the options and their hard ranges ------------------------------------------------------------

#: Ceilings of the [safety] caps, in km/h and percent grade, whatever the treadmill can do: the
#: config may only lower a cap. They are the station's default caps (app/core/caps.py), whose
#: source is docs/practice.md: backward walking holding the rails tops out at 3.0-3.5 mph, plus
#: 1 mph for the backward jogging intervals of experienced walkers (4.5 mph); forward phases are
#: walking or slow jogging (6.0 mph); backward incline work stays at a few percent (the ACL trials'
#: 5 degrees is 8.7 % grade: 10 %); forward 15 %, the top grade of common treadmills.
CAP_CEILINGS_KMH = {
    "backward_speed": DEFAULT_BACKWARD_SPEED_KMH,
    "forward_speed": DEFAULT_FORWARD_SPEED_KMH,
}
CAP_CEILINGS_PCT = {
    "backward_incline": DEFAULT_BACKWARD_INCLINE_PCT,
    "forward_incline": DEFAULT_FORWARD_INCLINE_PCT,
}
#: Serial speeds a CSAFE adapter may use (CSAFE itself is 9600 8N1; some consoles allow others).
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
#: The staff PIN hash as app/ui/pin.py writes it. The iteration count is bounded so that checking
#: a PIN can neither be trivial nor hang the kiosk (1,000,000 rounds take about 2 s on a Pi 4).
PIN_HASH = re.compile(r"pbkdf2_sha256\$(\d{1,7})\$([0-9a-fA-F]{16,128})\$([0-9a-fA-F]{64})")
PIN_HASH_ITERATIONS = (1_000, 1_000_000)


class Option(Record):
    """One config option: its kind and what it allows. ``low``/``high`` are inclusive hard limits
    (for a ``cap``, the ceiling is in :data:`CAP_CEILINGS_KMH`/:data:`CAP_CEILINGS_PCT`)."""

    kind: str                       # number | cap | choice | flag | text | pins | pin
    unit: str = ""
    low: float = 0.0
    high: float = 0.0
    whole: bool = False
    choices: tuple = ()
    pattern: str = ""               # text: a regular expression the whole value must match
    allowed: str = ""               # text: what the pattern allows, in words
    name: str = ""                  # cap: which ceiling

    def range_text(self) -> str:
        """The allowed range in words, exactly as docs/config.md shows it."""
        if self.kind == "number":
            return f"{self.low:g} to {self.high:g}{' ' + self.unit if self.unit else ''}"
        if self.kind == "cap" and self.unit == "speed":
            return f"above 0, at most {from_kmh(CAP_CEILINGS_KMH[self.name], 'mph'):g} mph ({CAP_CEILINGS_KMH[self.name]:.2f} km/h)"
        if self.kind == "cap":
            return f"0 to {CAP_CEILINGS_PCT[self.name]:g} %"
        if self.kind == "choice":
            return " or ".join(f'"{c}"' if isinstance(c, str) else f"{c}" for c in self.choices)
        return self.allowed


def _number(low: float, high: float, unit: str, whole: bool = False) -> Option:
    return Option("number", unit=unit, low=low, high=high, whole=whole)


_PIN = Option("pin", low=0, high=63, allowed="a BCM GPIO number, 0 to 63")
_PATH = Option("text", pattern=r"/[^\x00-\x1f\x7f]{0,4095}", allowed="an absolute path")

#: Every option, with its hard range. Sources and reasons: docs/config.md.
OPTIONS: dict[tuple[str, str], Option] = {
    ("station", "id"): Option("text", pattern=r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}",
                              allowed="1-40 letters, digits, dashes or underscores, starting with a letter or digit"),
    ("station", "name"): Option("text", pattern=r"[^\x00-\x1f\x7f]{1,60}", allowed="1-60 characters, no control characters"),
    ("station", "units"): Option("choice", choices=("mph", "kmh")),
    ("safety", "units"): Option("choice", choices=("mph", "kmh")),
    ("safety", "backward_speed"): Option("cap", unit="speed", name="backward_speed"),
    ("safety", "forward_speed"): Option("cap", unit="speed", name="forward_speed"),
    ("safety", "backward_incline"): Option("cap", unit="%", name="backward_incline"),
    ("safety", "forward_incline"): Option("cap", unit="%", name="forward_incline"),
    # docs/safety.md, rule 3: past 3 s of grace a person takes several unsupported steps.
    ("safety", "rails_grace_s"): _number(0.2, 3.0, "s"),
    ("safety", "rails_hold_s"): _number(0.5, 10.0, "s"),
    # docs/safety.md, rules 3 and 4: a countdown a person can see; 0 would be none at all.
    ("safety", "resume_countdown_s"): _number(1.0, 10.0, "s"),
    ("safety", "start_countdown_s"): _number(1.0, 10.0, "s"),
    # docs/practice.md: slow down (here: stop) before the person turns around.
    ("safety", "turnaround_s"): _number(2.0, 60.0, "s"),
    ("safety", "phase_warning_s"): _number(1.0, 60.0, "s"),
    # docs/practice.md, safety set-up step 6; 3 s is the core's cooldown_min_s.
    ("safety", "cooldown_s"): _number(3.0, 120.0, "s"),
    ("gpio", "lanyard_pin"): _PIN,
    ("gpio", "lanyard_active_when"): Option("choice", choices=("closed", "open")),
    ("gpio", "rail_pins"): Option("pins", low=0, high=63, allowed="a list of 1 to 4 BCM GPIO numbers, 0 to 63"),
    ("gpio", "rails_held_means"): Option("choice", choices=("both", "either")),
    ("gpio", "rail_active_when"): Option("choice", choices=("closed", "open")),
    ("gpio", "belt_pulse_pin"): Option("pin", low=0, high=63, allowed="a BCM GPIO number, 0 to 63, or left out"),
    ("gpio", "roller_circumference_mm"): _number(50.0, 1000.0, "mm"),
    ("gpio", "pulses_per_revolution"): _number(1, 64, "", whole=True),
    # docs/safety.md, rule 2: only re-arming is debounced, and a restart still needs a confirm,
    # so 0 (no debounce) is allowed; 2 s is already a long wait after clipping the key.
    ("gpio", "rearm_debounce_s"): _number(0.0, 2.0, "s"),
    ("gpio", "pin_factory"): Option("text", pattern=r"[a-z0-9_.]{0,40}",
                                    allowed='"" or a gpiozero pin factory name (lgpio, rpigpio, pigpio, native, mock)'),
    ("treadmill", "mode"): Option("choice", choices=("csafe", "cue")),
    ("treadmill", "port"): Option("text", pattern=r"[^\x00-\x1f\x7f]{1,200}",
                                  allowed="a serial device path or a pyserial URL, 1-200 characters"),
    ("treadmill", "baudrate"): Option("choice", choices=BAUDRATES),
    ("treadmill", "poll_interval_s"): _number(0.05, 2.0, "s"),
    # docs/safety.md, rule 5: a silent link is noticed within 3 s.
    ("treadmill", "silence_timeout_s"): _number(0.2, 3.0, "s"),
    ("treadmill", "ramp_kmh_per_s"): _number(0.1, 2.0, "km/h per s"),
    ("store", "db_path"): Option("text", pattern=r"(/[^\x00-\x1f\x7f]{0,4095})?", allowed='"" or an absolute path'),
    ("export", "mount_dir"): _PATH,
    ("export", "automatic"): Option("flag", allowed="true or false"),
    ("export", "require_pin"): Option("flag", allowed="true or false"),
    ("export", "pseudonymize_members"): Option("flag", allowed="true or false"),
    ("kiosk", "fullscreen"): Option("flag", allowed="true or false"),
    ("kiosk", "staff_pin_hash"): Option("text", pattern=r"|" + PIN_HASH.pattern,
                                        allowed='"" or a hash written by `backstep staff-pin`'),
    ("kiosk", "sound"): Option("flag", allowed="true or false"),
    ("kiosk", "speech"): Option("flag", allowed="true or false"),
    # 0 is allowed here (a quiet room for a demo); the Settings page never goes below 10 %.
    ("kiosk", "volume"): _number(0, 100, "%", whole=True),
    # docs/hub.md: the clinic hub is optional; empty means this station works alone.
    ("hub", "dsn"): Option("text", pattern=r"[^\x00-\x1f\x7f]{0,2000}",
                           allowed='"" or the connection string `backstep hub add-station` printed'),
    ("hub", "dsn_file"): Option("text", pattern=r"(/[^\x00-\x1f\x7f]{0,4095})?", allowed='"" or an absolute path'),
    # Often enough that a member walks at the next station minutes later; never a busy loop.
    ("hub", "interval_s"): _number(10.0, 3600.0, "s"),
}
_SAFETY_CAPS = ("backward_speed", "forward_speed", "backward_incline", "forward_incline")
_SAFETY_SECONDS = tuple(key for (section, key) in OPTIONS if section == "safety" and key.endswith("_s"))
#: The link must be polled at least twice within the silence timeout, or a healthy link reads lost.
POLLS_PER_TIMEOUT = 2


def option_default(section: str, key: str) -> Any:
    """The value an option has when the file leaves it out (caps in km/h and percent)."""
    if section == "safety":
        safety = SafetyConfig()
        if key == "units":
            return "mph"
        if key in _SAFETY_CAPS:
            caps = safety.caps
            return {"backward_speed": caps.backward_speed_kmh, "forward_speed": caps.forward_speed_kmh,
                    "backward_incline": caps.backward_incline_pct, "forward_incline": caps.forward_incline_pct}[key]
        return getattr(safety, key)
    return getattr(_SECTIONS[section](), key)


# -- finding and reading the file -----------------------------------------------------------------
def default_config_path() -> Path:
    env = os.environ.get("BACKSTEP_CONFIG")
    if env:
        return Path(env)
    if paths.installed():
        return paths.APPLIANCE_CONFIG
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "backstep" / "config.toml"


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the config at *path* (or the default place). A missing default file means defaults;
    a missing file that was asked for by name is an error. Raises only :class:`ConfigError`."""
    from .access import unreadable

    explicit = path is not None or bool(os.environ.get("BACKSTEP_CONFIG"))
    target = Path(path) if path is not None else default_config_path()
    try:
        info = target.stat()
    except FileNotFoundError:
        if explicit:
            raise ConfigError([f"{target}: config file not found; check the path or unset BACKSTEP_CONFIG"]) from None
        return Config()
    except OSError as exc:
        raise ConfigError([unreadable(target, exc, "config")]) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"{target}: not a regular file; point --config or BACKSTEP_CONFIG at the config file"])
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError([f"{target}: too large for a config ({info.st_size} bytes, at most {MAX_CONFIG_BYTES})"])
    try:
        with open(target, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{target}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError([unreadable(target, exc, "config")]) from None
    return parse_config(text, str(target))


def parse_config(text: str, source: str = "config.toml") -> Config:
    """Check *text* against :data:`OPTIONS`. Raises only :class:`ConfigError`, with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: TOML syntax: {_short(str(exc), 120)}"]) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # Python's own limits: an integer of thousands of digits, arrays nested hundreds deep.
        raise ConfigError([f"{source}: not a config the station can read ({type(exc).__name__}: "
                           f"{_short(str(exc), 60)}); keep to plain numbers, text and short lists"]) from None
    problems: list[str] = []
    built: dict[str, Any] = {}
    allowed_sections = ["safety", *_SECTIONS]
    for section, values in data.items():
        if section not in allowed_sections:
            problems.append(f"{source}: [{_short(section)}]: unknown section; allowed: {', '.join(allowed_sections)}")
            continue
        if not isinstance(values, dict):
            problems.append(f"{source}: {section}: must be a [{section}] table")
            continue
        checked = _checked_section(section, values, source, problems)
        built[section] = _safety(checked, source, problems) if section == "safety" else _SECTIONS[section](**checked)
    if problems:
        raise ConfigError(problems)
    return Config(source=source, **built)


# -- checking ---------------------------------------------------------------------------------------
class _Bad(Exception):
    """One option's problem, in words (the caller adds the file, section and option)."""


def _short(value: Any, limit: int = ECHO_CHARS) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _checked_section(section: str, values: dict, source: str, problems: list[str]) -> dict[str, Any]:
    known = [key for (s, key) in OPTIONS if s == section]
    checked: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source}: [{section}] {_short(key)}"
        spec = OPTIONS.get((section, key))
        if spec is None:
            problems.append(f"{where}: unknown option; allowed: {', '.join(known)}")
            continue
        try:
            checked[key] = _check(spec, value)
        except _Bad as bad:
            problems.append(f"{where}: {bad}")
    if section == "treadmill":
        poll = checked.get("poll_interval_s", TreadmillSection.poll_interval_s)
        silence = checked.get("silence_timeout_s", TreadmillSection.silence_timeout_s)
        if silence < POLLS_PER_TIMEOUT * poll:
            problems.append(f"{source}: [treadmill] silence_timeout_s: {silence:g} s must be at least "
                            f"{POLLS_PER_TIMEOUT} x poll_interval_s ({poll:g} s), or a healthy link reads as lost")
    return checked


def _check(spec: Option, value: Any) -> Any:
    kind = spec.kind
    if kind == "flag":
        if isinstance(value, bool):
            return value
        raise _Bad(f"must be true or false (without quotes), not {_short(value)}")
    if kind == "choice":
        if isinstance(value, bool) or value not in spec.choices or type(value) is not type(spec.choices[0]):
            raise _Bad(f"{_short(value)} is not allowed; use one of {', '.join(map(str, spec.choices))}")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise _Bad(f"must be a text in quotes: {spec.allowed}")
        if not re.fullmatch(spec.pattern, value):
            raise _Bad(f"{_short(value)!s} is not allowed; use {spec.allowed}")
        if spec is OPTIONS[("kiosk", "staff_pin_hash")] and value:
            rounds = int(PIN_HASH.fullmatch(value).group(1))
            low, high = PIN_HASH_ITERATIONS
            if not low <= rounds <= high:
                raise _Bad(f"{rounds} PBKDF2 rounds is outside {low:,} to {high:,}; set the PIN again with "
                           "`backstep staff-pin --write`")
        return value
    if kind in ("pin", "pins"):
        items = value if kind == "pins" else [value]
        if kind == "pins" and (not isinstance(value, list) or not 1 <= len(value) <= 4):
            raise _Bad(f"must be {spec.allowed}, e.g. [27, 22]")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                raise _Bad(f"must be a whole number ({spec.allowed}), not {_short(item)}")
            if not spec.low <= item <= spec.high:
                raise _Bad(f"{_short(item)} is not allowed; use {spec.allowed}")
        return tuple(value) if kind == "pins" else value
    return _number_value(spec, value)


def _number_value(spec: Option, value: Any) -> float | int:
    """*value* as a number inside the option's range. Compared before any conversion: an integer of
    hundreds of digits must not overflow float()."""
    what = f"{spec.range_text()}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"must be a number ({what}), not {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"{_short(value)} is not a number the station can use; use {what}")
    if spec.whole and not isinstance(value, int):
        raise _Bad(f"must be a whole number ({what}), not {_short(value)}")
    if spec.kind == "cap":
        return value  # its range depends on [safety] units: checked in _safety
    if not spec.low <= value <= spec.high:
        raise _Bad(f"{_short(value)}{' ' + spec.unit if spec.unit else ''} is outside the allowed range {what}")
    return value if spec.whole else float(value)


def _safety(checked: dict[str, Any], source: str, problems: list[str]) -> SafetyConfig:
    units = checked.get("units", "mph")
    kwargs = {key: checked[key] for key in _SAFETY_SECONDS if key in checked}
    base = SafetyConfig().caps
    caps = {
        "backward_speed": base.backward_speed_kmh, "forward_speed": base.forward_speed_kmh,
        "backward_incline": base.backward_incline_pct, "forward_incline": base.forward_incline_pct,
    }
    for key in _SAFETY_CAPS:
        if key not in checked:
            continue
        value = checked[key]
        where = f"{source}: [safety] {key}"
        if key in CAP_CEILINGS_KMH:
            ceiling_kmh = CAP_CEILINGS_KMH[key]
            # Compared in the file's own units, so 4.5 mph is exactly the 4.5 mph ceiling.
            ceiling = from_kmh(ceiling_kmh, units)
            if not 0 < value <= ceiling + 1e-9:
                problems.append(f"{where}: {_short(value)} {unit_label(units)} is not allowed; a cap is above 0 and at "
                                f"most the ceiling {ceiling:.3g} {unit_label(units)} ({ceiling_kmh:.2f} km/h): "
                                "a config can lower a cap, never raise it (docs/config.md)")
                continue
            caps[key] = min(to_kmh(value, units), ceiling_kmh)
        else:
            ceiling = CAP_CEILINGS_PCT[key]
            if not 0 <= value <= ceiling:
                problems.append(f"{where}: {_short(value)} % is not allowed; use 0 to the ceiling {ceiling:g} %: "
                                "a config can lower a cap, never raise it (docs/config.md)")
                continue
            caps[key] = float(value)
    kwargs["caps"] = Caps(
        backward_speed_kmh=caps["backward_speed"], forward_speed_kmh=caps["forward_speed"],
        backward_incline_pct=caps["backward_incline"], forward_incline_pct=caps["forward_incline"],
    )
    return SafetyConfig(**kwargs)
