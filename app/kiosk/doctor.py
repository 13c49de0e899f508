"""``backstep doctor``'s whole list of checks: the shell's (:mod:`app.shell.doctor`) plus the ones
that need the UI (sound, speech) and the clinic hub, which the shell layer may not import.
"""

from __future__ import annotations

from ..config import Config
from ..shell.devices import simulated_station
from ..shell.doctor import (OK, PROBLEM, SKIPPED, Check, asset_checks, config_check, database_check, pin_check,
                            pin_checks, sensor_checks, treadmill_check)


def run_checks(config_path: str | None, *, sim: bool = False, db: str | None = None) -> list[Check]:
    checks: list[Check] = []
    config = config_check(config_path, checks)
    pins = pin_checks(config)
    checks.extend(pins)
    station = None
    try:
        if sim:
            station = simulated_station(config)
        if any(c.check == "pins" and c.status == PROBLEM for c in pins):
            checks.append(Check("sensors", SKIPPED, "not read until the pin problems above are fixed"))
        else:
            checks.extend(sensor_checks(config, station))
        checks.append(treadmill_check(config, station))
    finally:
        if station is not None:
            station.close()
    checks.append(database_check(config, db))
    if any(c.check == "config" and c.status == PROBLEM for c in checks):
        checks.append(Check("staff-pin", SKIPPED, "not known until the config loads"))
    else:
        checks.append(pin_check(config, db, sim=sim))
    checks.extend(asset_checks(config))
    checks.extend(audio_checks(config))
    checks.append(hub_check(config))
    return checks


def hub_check(config: Config) -> Check:
    """The clinic hub answers with this station's login (docs/hub.md); skipped without a hub."""
    if not (config.hub.dsn or config.hub.dsn_file):
        return Check("hub", SKIPPED, "no [hub] in the config: this station works alone")
    from ..hub.connection import HubError, check, dsn_from_config

    try:
        return Check("hub", OK, check(dsn_from_config(config.hub), config.station.id))
    except HubError as exc:
        return Check("hub", PROBLEM, str(exc))


# -- sound and speech ------------------------------------------------------------------------------
def audio_checks(config: Config) -> list[Check]:
    """The sound output opens (chimes and speech share it) and espeak-ng renders speech, not
    silence: a person walking backward faces away from the screen and hears the cues."""
    from ..ui.audio import AudioError, check_output
    from ..ui.speech import SpeechError, check_speech

    kiosk = config.kiosk
    if not (kiosk.sound or kiosk.speech):
        return [Check("sound", SKIPPED, "[kiosk] sound and speech are off: the station gives no spoken or "
                                        "sounded cues (turn them on for anyone walking backward)")]
    checks = []
    try:
        checks.append(Check("sound", OK, f"{check_output()}; volume {kiosk.volume} % (staff change it on the "
                                         "kiosk's Settings page)"))
    except AudioError as exc:
        checks.append(Check("sound", PROBLEM, str(exc)))
    if not kiosk.speech:
        checks.append(Check("speech", SKIPPED, "[kiosk] speech = false: cues are not spoken"))
        return checks
    try:
        checks.append(Check("speech", OK, check_speech()))
    except SpeechError as exc:
        checks.append(Check("speech", PROBLEM, str(exc)))
    return checks
