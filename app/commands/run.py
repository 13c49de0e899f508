"""``backstep run``: the kiosk. Parses the arguments and starts :class:`app.kiosk.app.KioskApp`."""

from __future__ import annotations

from ..errors import UserError
from .common import db_path_from


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the kiosk (fullscreen touchscreen station)",
                              description="Run the station's touchscreen kiosk. Fullscreen at the display's own size "
                                          "unless --windowed. --sim builds a simulated station driven by the keyboard: "
                                          "L lanyard, R rails, C treadmill cable.")
    p.add_argument("--sim", action="store_true", help="simulated sensors and treadmill (no Pi needed)")
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen (development)")
    p.add_argument("--program", metavar="ID|FILE", help="open this program's checklist at start")
    p.add_argument("--sim-control", metavar="PATH", help="with --sim: a Unix socket taking script commands "
                                                         "('rails released', 'tap start')")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 800x480 (default: the display's size)")
    p.add_argument("--db", metavar="FILE", help="session database (default: $BACKSTEP_DB or the usual place)")
    p.set_defaults(func=run_command)


def parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: use WIDTHxHEIGHT, e.g. 800x480") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise UserError(f"--size {text}: use a size between 320x240 and 7680x4320")
    return w, h


def run_command(args) -> int:
    from ..kiosk.app import KioskApp
    from ..shell.resilience import begin_startup
    from ..shell.systemd import setup_logging

    setup_logging("backstep")  # the journal under systemd (with fields), else stderr
    size = parse_size(args.size)
    # The start-up guard: a broken config gives a service screen, two failed starts safe mode.
    startup = begin_startup(args.config, args.db)
    return KioskApp(startup, db_path_from(args, startup.config), size=size,
                    fullscreen=startup.config.kiosk.fullscreen and not args.windowed, program=args.program,
                    sim=args.sim, sim_control=args.sim_control).run()
