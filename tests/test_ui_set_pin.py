"""An installed station never runs with the factory PIN: its first start asks staff to choose one,
before the home screen; the simulated station keeps 0000."""

from __future__ import annotations

import os
import stat

import pygame
import pytest
from test_ui_support import make_kiosk, tap, views

from app.config import parse_config
from app.core.view import Screen
from app.shell.staff_pin import kiosk_pin, pin_file, staff_pin_hash
from app.ui.pin import NewPin, check_pin

VIEWS = views()


def type_new_pin(kiosk, pin: str, now: float) -> None:
    for i, digit in enumerate(pin):
        tap(kiosk, f"pin:{digit}", now + i)
    tap(kiosk, "pin_ok", now + len(pin) + 1)


def first_start(save):
    kiosk, posted = make_kiosk(pin_hash="", save_pin=save)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    return kiosk, posted


def test_first_start_asks_for_a_pin_before_the_home_screen():
    saved: list[str] = []
    kiosk, posted = first_start(saved.append)
    assert kiosk.scene().name == "set_pin"
    names = {target.name for target in kiosk.page().targets}
    assert "pin_cancel" not in names and not any(n.startswith("program:") for n in names) and "staff" not in names
    type_new_pin(kiosk, "0000", 10.0)
    assert kiosk.ui.new_pin.message == "set_pin_factory" and not saved
    type_new_pin(kiosk, "12", 20.0)
    assert kiosk.ui.new_pin.message == "set_pin_length"
    type_new_pin(kiosk, "2468", 30.0)
    assert kiosk.ui.new_pin.message == "set_pin_again"
    type_new_pin(kiosk, "2469", 40.0)
    assert kiosk.ui.new_pin.message == "set_pin_differ" and not saved
    type_new_pin(kiosk, "2468", 50.0)
    type_new_pin(kiosk, "2468", 60.0)
    [stored] = saved
    assert check_pin("2468", stored) and not check_pin("0000", stored)
    assert kiosk.scene().name == "home"
    assert posted == [], "choosing a PIN posts nothing to the core"
    tap(kiosk, "staff", 80.0)
    type_new_pin(kiosk, "0000", 90.0)
    assert kiosk.scene().name == "pin", "the factory PIN no longer opens the staff pages"
    type_new_pin(kiosk, "2468", 100.0)
    assert kiosk.scene().name == "staff"


def test_a_program_chosen_at_start_waits_for_the_pin_too():
    kiosk, _ = make_kiosk(pin_hash="", save_pin=lambda stored: None)
    kiosk.update(VIEWS[Screen.PREFLIGHT], 0.0)
    assert kiosk.scene().name == "set_pin"
    assert kiosk.page().target("start") is None


def test_a_pin_that_cannot_be_saved_is_said_and_asked_again():
    def full_disk(stored):
        raise OSError(28, "No space left on device")

    kiosk, _ = first_start(full_disk)
    type_new_pin(kiosk, "97531", 10.0)
    type_new_pin(kiosk, "97531", 20.0)
    assert kiosk.scene().name == "set_pin" and kiosk.ui.new_pin.message == "set_pin_failed"


def test_the_simulated_station_keeps_the_factory_pin():
    kiosk, _ = make_kiosk(pin_hash="")
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    assert kiosk.scene().name == "home"


@pytest.mark.parametrize("size", [(800, 480), (1024, 600), (1280, 800), (1920, 1080)])
def test_the_set_pin_screen_fits_and_draws(size):
    kiosk, _ = make_kiosk(size, pin_hash="", save_pin=lambda stored: None)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    surface = pygame.Surface(size)
    kiosk.ui.new_pin.digits = "24"
    kiosk.render(surface)
    screen = pygame.Rect((0, 0), size)
    for target in kiosk.page().targets:
        assert screen.contains(target.rect), target.name
        assert min(target.rect.size) >= kiosk.metrics.touch, target.name


def test_new_pin_never_accepts_the_factory_pin_or_a_mismatch():
    entry = NewPin()
    for typed in ("0000", "0000"):
        entry.digits = typed
        assert entry.submit() is None
    entry.digits = "123456789"  # the keypad stops at 8 digits; a 9th is never stored
    assert entry.submit() is None and entry.message == "set_pin_length"


def test_an_installed_kiosk_stores_the_pin_beside_the_database(tmp_path):
    db = tmp_path / "state" / "backstep.db"
    config = parse_config("")
    stored_hash, save = kiosk_pin(config, db, simulated=False)
    assert stored_hash == "" and save is not None
    from app.ui.pin import hash_pin

    save(hash_pin("86420", iterations=1000))
    assert stat.S_IMODE(os.stat(pin_file(db)).st_mode) == 0o600
    assert check_pin("86420", staff_pin_hash(config, db))
    again, _ = kiosk_pin(config, db, simulated=False)
    assert check_pin("86420", again), "the next start uses it"


def test_a_hash_in_the_config_wins_and_the_simulation_never_saves(tmp_path):
    from app.ui.pin import hash_pin

    configured = hash_pin("1357", iterations=1000)
    config = parse_config(f'[kiosk]\nstaff_pin_hash = "{configured}"\n')
    assert kiosk_pin(config, tmp_path / "x.db", simulated=False)[0] == configured
    assert kiosk_pin(parse_config(""), tmp_path / "x.db", simulated=True) == ("", None)


def test_a_damaged_pin_file_means_no_pin_so_staff_set_one_again(tmp_path):
    db = tmp_path / "backstep.db"
    pin_file(db).write_text("not a hash\n")
    assert staff_pin_hash(parse_config(""), db) == ""
