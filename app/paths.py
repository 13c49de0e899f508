"""Where things live: the database, the built-in assets. XDG on a desktop, FHS on the appliance."""

from __future__ import annotations

import functools
import os
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
    package = package_dir()
    checkout = package.parent / "assets"
    if (package.parent / "pyproject.toml").is_file() and (checkout / "programs").is_dir():
        return checkout
    return package / "assets"


def package_dir() -> Path:
    """The ``app`` package's folder on disk.

    Every real install is a plain folder, and then it is the folder this module is in: the same path
    importlib.resources gives, without importing it, its readers and zipfile (about 6 ms of a
    command that opens no window, ``backstep programs list``; the kiosk loads them anyway, for
    pygame's window icon). Only a package that is not a folder (a zip) goes through
    importlib.resources, and is refused: pygame and the program loader open files by name.
    """
    here = Path(__file__).parent
    if here.is_dir():
        return here
    from importlib import resources

    package = resources.files("app")
    if not isinstance(package, Path):
        raise RuntimeError(f"Backstep is installed where its files have no path ({package}); "
                           "install it unzipped with pip")
    return package


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
