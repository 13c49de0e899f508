"""Where things live: the database, the built-in assets. XDG on a desktop, FHS on the appliance."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

APPLIANCE_STATE_DIR = Path("/var/lib/backstep")
#: Written by deploy/install.sh: its presence means "this is an installed station".
APPLIANCE_CONFIG = Path("/etc/backstep/config.toml")


def installed() -> bool:
    """An installed station: every command then works on the kiosk's own config and database,
    never on a user's empty ones (an admin who may not read them is told so: app.access)."""
    return APPLIANCE_CONFIG.exists()


def assets_dir() -> Path:
    """The built-in programs, fonts and sounds: ``$BACKSTEP_ASSETS``, else the bundled ones."""
    env = os.environ.get("BACKSTEP_ASSETS")
    if env:
        return Path(env)
    return bundled_assets_dir()


@functools.cache
def bundled_assets_dir() -> Path:
    """The repository's top-level ``assets/`` folder, found through the ``app`` package.

    An installed Backstep (wheel, venv, the appliance) carries it inside the package as ``app/assets``
    (setup.py maps ``assets/`` to the data package ``app.assets``). A source checkout run without
    installing (``PYTHONPATH=.``), and an editable install, use ``assets/`` beside ``app/``: looked
    at first, so a worktree sees its own assets even when another checkout is installed editable.
    """
    package = resources.files("app")
    if not isinstance(package, Path):
        # pygame and the program loader open files by name: a zipped install cannot serve them.
        raise RuntimeError(f"Backstep is installed where its files have no path ({package}); "
                           "install it unzipped with pip")
    checkout = package.parent / "assets"
    if (package.parent / "pyproject.toml").is_file() and (checkout / "programs").is_dir():
        return checkout
    return package / "assets"


def asset_path(*parts: str) -> Path:
    """A file or folder among the assets, e.g. ``asset_path("fonts")``."""
    return assets_dir().joinpath(*parts)


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
