"""Where the staff PIN's hash lives, and replacing a file without changing who may read it.

The hash is set two ways (docs/config.md, "The staff PIN"): an administrator writes it into the
config (``backstep staff-pin --write``), or staff set it on the kiosk's first start. The kiosk runs
as the ``backstep`` user on a read-only system and cannot write ``/etc/backstep``, so the kiosk keeps
its hash in ``staff-pin`` beside the database (the one folder it may write). A hash in the config
wins over that file. No hash at all means the factory PIN 0000, which only a simulated station keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import PIN_HASH, PIN_HASH_ITERATIONS, Config

#: Beside the database: /var/lib/backstep/staff-pin on an installed station.
PIN_FILE_NAME = "staff-pin"
#: The hash file is read by the kiosk's user only.
PIN_FILE_MODE = 0o600


def pin_file(db_path: Path) -> Path:
    return Path(db_path).parent / PIN_FILE_NAME


def well_formed(stored: str) -> bool:
    match = PIN_HASH.fullmatch(stored)
    low, high = PIN_HASH_ITERATIONS
    return bool(match) and low <= int(match.group(1)) <= high


def read_pin_file(path: Path) -> str:
    """The hash the kiosk stored, or "" when there is none (or it is not a hash: set a new one)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(512).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text if well_formed(text) else ""


def staff_pin_hash(config: Config, db_path: Path) -> str:
    """The hash in force: the config's, else the kiosk's own, else "" (the factory PIN)."""
    return config.kiosk.staff_pin_hash or read_pin_file(pin_file(db_path))


def save_pin_file(path: Path, stored: str) -> None:
    """Store the kiosk's hash (mode 0600). Raises ValueError for a malformed hash, OSError on I/O."""
    if not well_formed(stored):
        raise ValueError("not a staff PIN hash")
    replace_file(path, (stored + "\n").encode("ascii"), new_mode=PIN_FILE_MODE)


def replace_file(path: Path, data: bytes, *, new_mode: int = 0o644) -> None:
    """Replace *path* with *data* atomically: a temporary file in the same folder, the old file's
    owner, group and mode copied onto it (*new_mode* for a new file), fsynced, renamed, the folder
    fsynced. A power cut leaves the old file or the new one, never a mix, and a config that was
    ``root:backstep 0640`` stays exactly that (the kiosk's user must still read it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    import tempfile  # here, not at the top: with shutil it is a few ms of the kiosk's start

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if old is not None:
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(handle.fileno(), old.st_uid, old.st_gid)
                os.fchmod(handle.fileno(), old.st_mode & 0o7777)
            else:
                os.fchmod(handle.fileno(), new_mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError:
        pass  # some file systems cannot fsync a folder; the file itself is on disk
    finally:
        os.close(folder)


def kiosk_pin(config: Config, db_path: Path, *, simulated: bool):
    """``(hash, save)`` for the kiosk: the hash in force and, on an installed (not simulated)
    station, the function that stores the PIN staff choose on screen. With ``save`` given and no
    hash, the kiosk asks for a PIN before its home screen."""
    if simulated:
        return config.kiosk.staff_pin_hash, None
    path = pin_file(db_path)
    return staff_pin_hash(config, db_path), lambda stored: save_pin_file(path, stored)
