"""``backstep staff-pin``: set the staff PIN that guards the staff screen, export and exit.

The PIN is stored only as a salted PBKDF2 hash in ``[kiosk] staff_pin_hash`` of the config.
``--write`` puts it into the config file itself, changing only that one line and keeping the file's
owner, group and mode (install.sh makes it root:backstep 0640: the kiosk must still read it, and
nobody else should). The factory PIN 0000 cannot be set (docs/config.md, "The staff PIN").
"""

from __future__ import annotations

import getpass
import re
import sys
from pathlib import Path

from ..config import default_config_path, parse_config
from ..errors import UserError
from ..ui.pin import DEFAULT_PIN, MAX_DIGITS, MIN_DIGITS

#: A config written from nothing holds the PIN hash: not for other users' eyes.
NEW_CONFIG_MODE = 0o640


def register(subparsers) -> None:
    parser = subparsers.add_parser("staff-pin", help="set the staff PIN (stored hashed in the config)")
    parser.add_argument("--write", action="store_true",
                        help="write the hash into the config file (default: print the line to paste)")
    parser.add_argument("--pin-from-stdin", action="store_true", help="read the PIN from standard input (scripts)")
    parser.set_defaults(func=run)


def read_pin(from_stdin: bool) -> str:
    if from_stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("New staff PIN (4-8 digits): ")
        if getpass.getpass("The same PIN again: ") != pin:
            raise UserError("the two PINs differ; nothing was changed")
    if not (pin.isdigit() and MIN_DIGITS <= len(pin) <= MAX_DIGITS):
        raise UserError(f"a staff PIN is {MIN_DIGITS} to {MAX_DIGITS} digits (the kiosk's keypad has digits only)")
    if pin == DEFAULT_PIN:
        raise UserError(f"{DEFAULT_PIN} is the factory PIN everyone knows; choose another")
    return pin


def with_pin_hash(text: str, line: str) -> str:
    """*text* (a config file) with ``staff_pin_hash`` set in its [kiosk] section, all else kept."""
    pattern = re.compile(r"^\s*staff_pin_hash\s*=.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    section = re.search(r"^\[kiosk\]\s*$", text, re.MULTILINE)
    if section:
        return text[: section.end()] + "\n" + line + text[section.end():]
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + "[kiosk]\n" + line + "\n"


def run(args) -> int:
    from ..shell.staff_pin import replace_file
    from ..ui.pin import hash_pin

    line = f'staff_pin_hash = "{hash_pin(read_pin(args.pin_from_stdin))}"'
    if not args.write:
        print("Put this line in the [kiosk] section of the config:")
        print(line)
        return 0
    path = Path(args.config) if args.config else default_config_path()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as exc:
        raise UserError(f"{path}: cannot read the config ({exc.strerror}); run as the station's admin (sudo)") from None
    updated = with_pin_hash(text, line)
    parse_config(updated, str(path))  # never write a config the station could not load
    try:
        replace_file(path, updated.encode("utf-8"), new_mode=NEW_CONFIG_MODE)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the config ({exc.strerror}); run as the station's admin (sudo)") from None
    print(f"{path}: staff PIN set; restart the kiosk to use it (sudo systemctl restart backstep)")
    return 0
