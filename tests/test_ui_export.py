"""The kiosk's Export screen controller over the station's USB watcher and export job."""

from __future__ import annotations

import errno
from app.core.record import replace
from types import SimpleNamespace

import pytest

from app.cli import main
from app.config import Config
from app.kiosk.usb_export import ExportError, UsbExport
from app.shell.export import ExportJob
from conftest import wait_for


def mount_line(path: str) -> str:
    return f"36 25 8:17 / {path} rw,nosuid,nodev,noexec,relatime shared:1 - vfat /dev/sdb1 rw\n"


@pytest.mark.slow
def test_stick_found_exported_unmounted_and_safe_to_remove(tmp_path):
    db = tmp_path / "station.db"
    script = tmp_path / "walk.txt"
    script.write_text("0 lanyard clipped\n0 rails held\n1 tap start\n400 end\n")
    assert main(["simulate", "--program", "beginner-flat", "--script", str(script), "--db", str(db)]) == 0
    media = tmp_path / "media"
    stick = media / "STICK"
    stick.mkdir(parents=True)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("")
    config = replace(Config(), export=replace(Config().export, mount_dir=str(media)))
    unmounted = []
    woken = []

    def fake_unmount(path):
        unmounted.append(path)
        return SimpleNamespace(ok=True, message="")

    export = UsbExport(config, db, lambda: woken.append(1), mountinfo=str(mountinfo), unmount=fake_unmount)
    try:
        assert export.status().state == "no_stick"
        mountinfo.write_text(mount_line(str(stick)))
        assert wait_for(lambda: export.status().state == "detected"), export.status()
        assert export.status().stick == "STICK" and woken
        export.start()
        assert wait_for(lambda: export.status().state in ("done", "error")), export.status()
        status = export.status()
        assert status.state == "done", status
        assert status.sessions == 1
        assert unmounted == [str(stick)]
        assert list(stick.rglob("*.tcx")), "no TCX written on the stick"
        export.dismiss()
        assert export.status().state == "detected"
        mountinfo.write_text("")
        assert wait_for(lambda: export.status().state == "no_stick"), export.status()
    finally:
        export.close()


def test_export_errors_are_told_by_the_systems_error_number_not_by_words(tmp_path):
    assert ExportError.of(errno.ENOSPC) is ExportError.FULL
    assert ExportError.of(errno.EROFS) is ExportError.READONLY
    assert ExportError.of(errno.ENODEV) is ExportError.REMOVED
    assert ExportError.of(None) is ExportError.OTHER
    # A real failure: the stick's folder is gone when the export begins (the stick was pulled).
    db = tmp_path / "station.db"
    script = tmp_path / "walk.txt"
    script.write_text("0 lanyard clipped\n0 rails held\n1 tap start\n30 end\n")
    assert main(["simulate", "--program", "beginner-flat", "--script", str(script), "--db", str(db)]) == 0
    result = ExportJob(db, tmp_path / "media" / "GONE", Config()).run()
    assert not result.ok
    assert result.errno == errno.ENOENT and ExportError.of(result.errno) is ExportError.REMOVED, result


@pytest.mark.slow
def test_the_kiosk_export_carries_each_members_history_chart(tmp_path):
    """The Export screen's job is given the chart renderer: a member's history PNG lands on the stick."""
    import pygame
    from test_history import run_member_session

    from app.shell.members import Members
    from app.shell.store import Store

    db = tmp_path / "station.db"
    store = Store(db)
    members = Members(store)
    ann = members.add("Ann", code="N1")
    run_member_session(store, members, ann.id, "", pain_before=2, pain_after=3)
    store.close()
    media = tmp_path / "media"
    stick = media / "STICK"
    stick.mkdir(parents=True)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(mount_line(str(stick)))
    config = replace(Config(), export=replace(Config().export, mount_dir=str(media)))
    export = UsbExport(config, db, mountinfo=str(mountinfo), unmount=lambda path: SimpleNamespace(ok=True, message=""))
    try:
        assert wait_for(lambda: export.status().state == "detected"), export.status()
        export.start()
        assert wait_for(lambda: export.status().state in ("done", "error")), export.status()
        assert export.status().state == "done", export.status()
        (chart,) = list(stick.rglob("charts/*.png"))
        assert chart.name == f"member-{ann.id}.png"
        assert pygame.image.load(str(chart)).get_width() > 0
    finally:
        export.close()
