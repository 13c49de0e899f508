"""The staff PIN: stored only as a PBKDF2 hash in ``[kiosk] staff_pin_hash``.

Format ``pbkdf2_sha256$ITERATIONS$SALT_HEX$HASH_HEX`` (the iteration count travels with the hash,
so it can be raised later without breaking old configs). An empty setting means the factory PIN
``0000``: only a simulated station keeps it; an installed kiosk makes staff choose a PIN first
(:class:`NewPin`), as a new router asks for an admin password (docs/config.md, "The staff PIN").
"""

from __future__ import annotations

import os

# hashlib and hmac are imported where a PIN is hashed or checked, not here: loading OpenSSL is ~3 ms
# of the kiosk's start before READY=1 (docs/architecture.md, Budgets), and no PIN is typed before it.
# The kiosk imports them on its after-READY worker thread (app/kiosk/app.py, after_ready).

DEFAULT_PIN = "0000"
#: A staff PIN is typed on the kiosk's digit keypad.
MIN_DIGITS = 4
MAX_DIGITS = 8
#: Enough to make guessing a 4-6 digit PIN from a stolen config slow, short enough (~0.1-0.3 s on a
#: Pi 4) that checking it on the home screen does not make the kiosk feel stuck.
ITERATIONS = 100_000
#: After this many wrong PINs in a row the keypad waits LOCKOUT_S seconds (stops trying every PIN).
MAX_TRIES = 5
LOCKOUT_S = 30.0


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    import hashlib

    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    """True when *pin* matches *stored* (or the factory PIN when nothing is stored). A malformed
    stored hash never matches: it must not lock staff out silently *or* let anyone in, so the
    kiosk shows "wrong PIN" and ``backstep doctor`` reports the bad setting."""
    import hashlib
    import hmac

    if not stored:
        return hmac.compare_digest(pin.encode(), DEFAULT_PIN.encode())
    try:
        scheme, iterations, salt_hex, hash_hex = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), bytes.fromhex(salt_hex), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex.lower())


class PinPad:
    """What is typed on the keypad, and the lockout after too many wrong tries."""

    def __init__(self, stored_hash: str, max_digits: int = 8):
        self.stored_hash = stored_hash
        self.max_digits = max_digits
        self.digits = ""
        self.wrong = 0
        self.locked_until = 0.0
        self.message = ""          # catalogue key of the last message, "" for none

    def press(self, digit: str) -> None:
        if len(self.digits) < self.max_digits and digit.isdigit():
            self.digits += digit
            self.message = ""

    def clear(self) -> None:
        self.digits = ""

    def locked(self, now: float) -> bool:
        return now < self.locked_until

    def submit(self, now: float) -> bool:
        """Check the typed PIN; clears it either way."""
        if self.locked(now):
            self.digits = ""
            return False
        ok = bool(self.digits) and check_pin(self.digits, self.stored_hash)
        self.digits = ""
        if ok:
            self.wrong = 0
            self.message = ""
            return True
        self.wrong += 1
        self.message = "pin_wrong"
        if self.wrong >= MAX_TRIES:
            self.wrong = 0
            self.locked_until = now + LOCKOUT_S
            self.message = "pin_locked"
        return False


class NewPin:
    """Choosing the staff PIN on the keypad: 4-8 digits, typed twice, never the factory PIN."""

    def __init__(self):
        self.digits = ""
        self.first: str | None = None
        self.message = "set_pin_first"   # catalogue key of what the screen says now

    def press(self, digit: str) -> None:
        if len(self.digits) < MAX_DIGITS and digit.isdigit():
            self.digits += digit

    def clear(self) -> None:
        self.digits = ""

    def submit(self) -> str | None:
        """The chosen PIN once it was typed the same way twice; ``None`` until then."""
        pin, self.digits = self.digits, ""
        if self.first is None:
            if not MIN_DIGITS <= len(pin) <= MAX_DIGITS:
                self.message = "set_pin_length"
            elif pin == DEFAULT_PIN:
                self.message = "set_pin_factory"
            else:
                self.first, self.message = pin, "set_pin_again"
            return None
        if pin != self.first:
            self.first, self.message = None, "set_pin_differ"
            return None
        return pin
