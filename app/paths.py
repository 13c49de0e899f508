"""Where things live: the database, the built-in assets. XDG on a desktop, FHS on the appliance."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APPLIANCE_STATE_DIR = Path("/var/lib/backstep")
#: Written by deploy/install.sh: its presence means "this is an installed station".
APPLIANCE_CONFIG = Path("/etc/backstep/config.toml")


def installed() -> bool:
    """An installed station: every command then works on the kiosk's own config and database,
    never on a user's empty ones (an admin who may not read them is told so: app.access)."""
    return APPLIANCE_CONFIG.exists()


def assets_dir() -> Path:
    """``assets/`` of a source checkout, or the copy the installer puts beside the venv."""
    env = os.environ.get("BACKSTEP_ASSETS")
    if env:
        return Path(env)
    for candidate in (
        Path(__file__).resolve().parent.parent / "assets",
        Path(sys.prefix) / "share" / "backstep" / "assets",
        Path("/opt/backstep/assets"),
    ):
        if (candidate / "programs").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent / "assets"


def default_db_path(configured: str = "") -> Path:
    """$BACKSTEP_DB, then the config's path, then /var/lib/backstep (appliance), then XDG."""
    env = os.environ.get("BACKSTEP_DB")
    if env:
        return Path(env)
    if configured:
        return Path(configured)
    if installed() or (APPLIANCE_STATE_DIR.is_dir() and os.access(APPLIANCE_STATE_DIR, os.W_OK)):
        return APPLIANCE_STATE_DIR / "backstep.db"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backstep" / "backstep.db"
