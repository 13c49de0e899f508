"""``backstep staff-pin``: the PIN is stored hashed, the rest of the config file is kept."""

from __future__ import annotations

import io

from app.cli import main
from app.config import load_config
from app.ui.pin import check_pin


def test_write_sets_the_hash_and_keeps_everything_else(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.toml"
    config.write_text("# my station\n[station]\nid = \"clinic-2\"\n\n[kiosk]\nsound = false\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert main(["--config", str(config), "staff-pin", "--write", "--pin-from-stdin"]) == 0
    loaded = load_config(config)
    assert check_pin("2468", loaded.kiosk.staff_pin_hash)
    assert not check_pin("0000", loaded.kiosk.staff_pin_hash)
    assert "2468" not in config.read_text()  # never the PIN itself
    assert loaded.station.id == "clinic-2" and loaded.kiosk.sound is False
    assert config.read_text().startswith("# my station")


def test_a_short_or_non_digit_pin_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("12a\n"))
    assert main(["staff-pin", "--pin-from-stdin"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4 to 8 digits" in err
