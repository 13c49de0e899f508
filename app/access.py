"""May this user read the station's files? And if not, one line that says what to do.

On an installed station the config is ``/etc/backstep/config.toml`` (root:backstep, 0640: it holds
the staff PIN's hash) and the database lives in ``/var/lib/backstep`` (the kiosk's user only, 0700).
An administrator's ``backstep doctor`` or ``backstep sessions`` must look at THOSE files, not at an
empty database of their own; where they may not read them, the command says which file, which user,
and how to run it as the station's user instead (docs/config.md, "Who may read the config").
Imports only the standard library (the config loader uses it).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import sys
from pathlib import Path

#: The user the kiosk's service runs as (deploy/backstep.service, User=).
SERVICE_USER = "backstep"


def user_name(uid: int | None = None) -> str:
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def owner_text(path: Path) -> str:
    """``root:backstep 0640`` for *path*, or for the first folder above it this user cannot enter."""
    try:
        info = path.stat()
    except OSError:
        blocked = blocking_folder(path)
        if blocked is None:
            return "owner unknown"
        return f"{blocked} is {owner_text(blocked)}"
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"{owner}:{group} {stat.S_IMODE(info.st_mode):04o}"


def blocking_folder(path: Path) -> Path | None:
    """The first folder above *path* this user may not enter (search permission), if any."""
    for folder in reversed(path.absolute().parents):
        if folder.is_dir() and not os.access(folder, os.X_OK):
            return folder
        if not folder.exists():
            return None
    return None


def as_station_user() -> str:
    """The command line that repeats this command as the kiosk's user."""
    import shlex  # only for this message; the config loader imports this module on every start

    argv = sys.argv[1:] if Path(sys.argv[0]).name in ("backstep", "__main__.py") else ["COMMAND"]
    return f"sudo -u {SERVICE_USER} backstep {shlex.join(argv)}".rstrip()


def unreadable(path: Path, exc: OSError, what: str) -> str:
    """One line for a file of the station's that exists but this user may not read."""
    if isinstance(exc, PermissionError) or exc.errno == 13:
        return (f"{path}: user {user_name()} may not read the {what} ({owner_text(path)}); it is the station's: "
                f"run the command as its user: {as_station_user()}")
    return f"{path}: cannot read the {what} ({exc.strerror or exc}); check the file"


def database_problem(path: Path, *, write: bool, create: bool = False) -> str | None:
    """Why this user cannot use the database at *path* (``None`` when nothing stops it). A missing
    file is not a problem here; a folder this user cannot enter is (the file may well be there).
    With *create*, root may not create the installed station's database: the file would be root's
    and the kiosk could not write it."""
    if create and os.geteuid() == 0 and _in_station_folder(path) and not path.exists():
        return (f"{path}: would be created by root, and the kiosk (user {SERVICE_USER}) could not write it; "
                f"run the command as the station's user: {as_station_user()}")
    blocked = blocking_folder(path)
    if blocked is not None:
        return (f"{path}: user {user_name()} may not enter {blocked} ({owner_text(blocked)}), so cannot "
                f"{'use' if write else 'read'} the station's database; run the command as its user: "
                f"{as_station_user()}")
    wanted = os.R_OK | (os.W_OK if write else 0)
    if path.exists() and not os.access(path, wanted):
        return (f"{path}: user {user_name()} may not {'write' if write else 'read'} the database "
                f"({owner_text(path)}); run the command as the station's user: {as_station_user()}")
    return None


def _in_station_folder(path: Path) -> bool:
    from . import paths

    return paths.installed() and Path(os.path.abspath(path)).parent == Path(os.path.abspath(paths.APPLIANCE_STATE_DIR))
