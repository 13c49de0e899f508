"""``backstep staff-pin``: the PIN is stored hashed, the rest of the config file is kept."""

from __future__ import annotations

import io
import os
import stat

import pytest

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


def _some_other_group() -> int:
    import grp

    for name in ("nogroup", "daemon", "users", "adm"):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    pytest.skip("no spare group on this machine")


def test_write_keeps_the_files_owner_group_and_mode(tmp_path, monkeypatch):
    """install.sh makes the config root:backstep 0640: a 0644 root:root file after --write would
    be world-readable (the PIN hash) and a 0600 one unreadable by the kiosk."""
    config = tmp_path / "config.toml"
    config.write_text("[station]\nid = \"clinic-2\"\n")
    os.chmod(config, 0o640)
    gid = _some_other_group() if os.geteuid() == 0 else os.getegid()
    os.chown(config, os.geteuid(), gid)
    before = config.stat()
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert main(["--config", str(config), "staff-pin", "--write", "--pin-from-stdin"]) == 0
    after = config.stat()
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert after.st_ino != before.st_ino, "replaced by a rename, not rewritten in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"], "no temporary file left behind"


def test_the_factory_pin_cannot_be_set_again(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setattr("sys.stdin", io.StringIO("0000\n"))
    assert main(["--config", str(config), "staff-pin", "--write", "--pin-from-stdin"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "0000" in err
    assert config.read_text() == ""


def test_a_new_config_file_is_not_world_readable(tmp_path, monkeypatch):
    config = tmp_path / "etc" / "config.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("13579\n"))
    assert main(["--config", str(config), "staff-pin", "--write", "--pin-from-stdin"]) == 0
    assert stat.S_IMODE(config.stat().st_mode) & 0o007 == 0, "the hash is for the station's eyes only"


def test_replace_file_survives_a_failed_write_with_the_old_file_intact(tmp_path, monkeypatch):
    from app.shell import staff_pin

    target = tmp_path / "config.toml"
    target.write_text("old\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(staff_pin.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        staff_pin.replace_file(target, b"new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
