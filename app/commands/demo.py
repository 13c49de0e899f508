"""``backstep demo``: a scripted walk through every screen of the kiosk, one PNG per screen.

The walk itself (the simulated station, the script clock, the taps and the screenshots) is
:class:`app.kiosk.demo.Demo`; this command picks the size, the folder and the display.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..core.record import replace
from ..errors import UserError
from ..kiosk.demo import Demo
from .run import parse_size

DEFAULT_SIZE = (800, 480)


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="walk the simulated station through every screen, saving PNGs",
                              description="Run a scripted session on the simulated station and write one PNG per "
                                          "screen. Headless by itself when there is no display.")
    p.add_argument("--headless", action="store_true", help="no window (SDL dummy video driver)")
    p.add_argument("--screenshots", metavar="DIR", help="where the PNGs go (default: ./screenshots)")
    p.add_argument("--size", metavar="WxH", help="screen size, e.g. 800x480 or 1920x1080 (default 800x480)")
    p.set_defaults(func=demo_command)


def demo_command(args) -> int:
    from ..config import load_config

    size = parse_size(args.size) or DEFAULT_SIZE
    headless = args.headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    out = Path(args.screenshots or "screenshots")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out}: cannot create the screenshot folder ({exc.strerror})") from None
    config = load_config(getattr(args, "config", None))
    # The demo's station is simulated, in cue mode; the treadmill's reports are played by the script.
    config = replace(config, treadmill=replace(config.treadmill, mode="cue"))
    started = time.monotonic()
    written = Demo(config, size, out, headless).run()
    print(f"backstep demo: {len(written)} screenshots at {size[0]}x{size[1]} in {out.resolve()} "
          f"({time.monotonic() - started:.1f} s)")
    return 0
