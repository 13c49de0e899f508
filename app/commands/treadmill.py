"""``backstep treadmill probe|set``: the installer's check of the CSAFE serial link.

``probe`` asks the treadmill what it is doing; ``set`` makes it run at a speed (``--speed 0`` stops
it). A value above the station's caps is refused, never quietly lowered: the installer typed it and
should know. Every port or treadmill problem becomes one line saying what to do.
"""

from __future__ import annotations

import json
import math

from ..core.units import KMH_PER_MPH, from_kmh, to_kmh, unit_label
from ..errors import UserError
from hardware.treadmill.link import LinkError, probe, set_once

from .common import config_from


def register(subparsers) -> None:
    parser = subparsers.add_parser("treadmill", help="check the treadmill's serial (CSAFE) link",
                                   description="Installer's check of the treadmill's CSAFE serial link.")
    commands = parser.add_subparsers(dest="treadmill_command", metavar="COMMAND", required=True)

    probe_parser = commands.add_parser("probe", help="ask the treadmill for state, speed, incline and distance")
    _port_options(probe_parser)
    probe_parser.add_argument("--json", action="store_true", help="print one JSON object")
    probe_parser.set_defaults(func=json_errors(probe_command))

    set_parser = commands.add_parser("set", help="run the belt at a speed (0 stops it)")
    _port_options(set_parser)
    set_parser.add_argument("--speed", type=float, required=True, metavar="V", help="belt speed; 0 stops the belt")
    set_parser.add_argument("--units", choices=("mph", "kmh"), required=True, help="units of --speed")
    set_parser.add_argument("--incline", type=float, default=0.0, metavar="PCT", help="grade in percent (default 0)")
    set_parser.add_argument("--direction", choices=("backward", "forward"), default="backward",
                            help="whose caps apply: backward (default) or forward walking")
    set_parser.add_argument("--json", action="store_true", help="print one JSON object")
    set_parser.set_defaults(func=json_errors(set_command))


def json_errors(command):
    """With ``--json``, a failure is also a JSON object on stdout (``{"ok": false, "error": ...}``), so
    a script reading the output learns what went wrong; the one line on stderr and the exit status
    stay as without ``--json``."""

    def wrapper(args) -> int:
        try:
            return command(args)
        except UserError as exc:
            if args.json:
                # The port the command used: --port, else the config's (None if the config failed).
                port = getattr(args, "resolved_port", None) or args.port
                print(json.dumps({"ok": False, "port": port, "error": str(exc)}, sort_keys=True))
            raise

    return wrapper


def _port_options(parser) -> None:
    parser.add_argument("--port", metavar="PORT",
                        help="serial port or pyserial URL (default: [treadmill] port in the config)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="S",
                        help="seconds to wait for the treadmill (default 3)")


def _port_and_config(args):
    config = config_from(args)
    port = args.port or config.treadmill.port
    args.resolved_port = port  # for json_errors: a failure names the port it tried
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout}: give a number of seconds above 0")
    return port, config


def probe_command(args) -> int:
    port, config = _port_and_config(args)
    try:
        result = probe(port, args.timeout, baudrate=config.treadmill.baudrate)
    except LinkError as exc:
        raise UserError(str(exc)) from None
    _print(result, args.json, config.station.units)
    return 0


def set_command(args) -> int:
    port, config = _port_and_config(args)
    caps = config.safety.caps
    def where(option: str) -> str:
        if config.source == "(defaults)":
            return f"the default; set [safety] {option} in the config to change it"
        return f"[safety] {option} in {config.source}"

    if not math.isfinite(args.speed) or args.speed < 0:
        raise UserError(f"--speed {args.speed}: give a speed of 0 or more")
    if not math.isfinite(args.incline) or args.incline < 0:
        raise UserError(f"--incline {args.incline}: give an incline of 0 % or more")
    speed_kmh = to_kmh(args.speed, args.units)
    max_speed = caps.speed_for(args.direction)
    max_incline = caps.incline_for(args.direction)
    # A tiny tolerance so "--speed 4.5 --units mph" passes a 4.5 mph cap after the km/h round trip.
    if speed_kmh > max_speed * (1 + 1e-9):
        raise UserError(
            f"--speed {args.speed:g} {unit_label(args.units)} is above the {args.direction}-walking cap of "
            f"{from_kmh(max_speed, args.units):.1f} {unit_label(args.units)} ({where(args.direction + '_speed')}); "
            f"give a lower speed" + ("" if args.direction == "forward" else " or --direction forward"))
    if args.incline > max_incline + 1e-9:
        raise UserError(
            f"--incline {args.incline:g} % is above the {args.direction}-walking cap of {max_incline:g} % "
            f"({where(args.direction + '_incline')}); give a lower incline")
    try:
        result = set_once(port, min(speed_kmh, max_speed), args.incline, max_speed_kmh=max_speed,
                          max_incline_pct=max_incline, timeout=args.timeout, baudrate=config.treadmill.baudrate)
    except LinkError as exc:
        raise UserError(str(exc)) from None
    result["target"] = {"speed_kmh": round(speed_kmh, 3), "incline_pct": args.incline}
    if args.json:
        _print(result, True, args.units)
        return 0
    if speed_kmh > 0:
        print(f"{port}: told the treadmill to run at {args.speed:g} {unit_label(args.units)}, incline {args.incline:g} %.")
        print(f"To stop it: backstep treadmill set --port {port} --speed 0 --units {args.units}")
    else:
        print(f"{port}: told the treadmill to stop the belt.")
    _print(result, False, args.units)
    return 0


def _print(result: dict, as_json: bool, units: str) -> None:
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    speed = result.get("speed_kmh")
    if speed is None:
        speed_text = "unknown"
    elif units == "mph":
        speed_text = f"{speed / KMH_PER_MPH:.1f} mph ({speed:.1f} km/h)"
    else:
        speed_text = f"{speed:.1f} km/h ({speed / KMH_PER_MPH:.1f} mph)"
    incline = result.get("incline_pct")
    distance = result.get("distance_m")
    print(f"{result['port']}: state {result['state']}, speed {speed_text}, "
          f"incline {'unknown' if incline is None else f'{incline:.1f} %'}, "
          f"distance {'unknown' if distance is None else f'{distance:.0f} m'}")
