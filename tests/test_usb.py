"""Stick detection and unmounting: the mount table, real tmpfs mounts, a busy stick."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import Config, ExportSection
from app.shell.usb import StickInserted, StickRemoved, StickWatcher, export_policy, parse_mountinfo, unmount
from test_export_fixtures import make_sessions

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 259:2 / / rw,relatime - ext4 /dev/mmcblk0p2 rw
90 27 8:17 / /media/backstep/KINGSTON rw,nosuid,nodev,noexec,relatime - vfat /dev/sdb1 rw,fmask=0022
91 27 8:33 / /media/backstep/My\\040Stick ro,nosuid,nodev,noexec - exfat /dev/sdc1 ro
92 27 8:49 / /media/backstep2/other rw - vfat /dev/sdd1 rw
93 27 0:50 / /media/backstep rw - tmpfs tmpfs rw
"""


def test_parse_mountinfo_unescapes_and_reads_flags():
    mounts = {m.path: m for m in parse_mountinfo(MOUNTINFO)}
    stick = mounts["/media/backstep/My Stick"]
    assert stick.device == "/dev/sdc1" and stick.fstype == "exfat" and stick.read_only and stick.hardened
    assert stick.name == "My Stick"
    assert not mounts["/media/backstep/KINGSTON"].read_only


def test_watcher_reports_sticks_below_the_folder_only(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text(MOUNTINFO)
    watcher = StickWatcher("/media/backstep", mountinfo=str(table))
    first = watcher.poll()
    assert [type(c) for c in first] == [StickInserted, StickInserted]
    assert [c.stick.path for c in first] == ["/media/backstep/KINGSTON", "/media/backstep/My Stick"]
    assert watcher.poll() == []
    table.write_text("\n".join(line for line in MOUNTINFO.splitlines() if "KINGSTON" not in line))
    (change,) = watcher.poll()
    assert isinstance(change, StickRemoved) and change.stick.name == "KINGSTON"


def test_policy_exposes_the_pin_flag():
    policy = export_policy(Config())
    assert policy.requires_pin is True and policy.automatic is False and policy.mount_dir == "/media/backstep"
    assert export_policy(Config(export=ExportSection(require_pin=False))).requires_pin is False


@pytest.fixture
def mount_dir(tmp_path):
    folder = tmp_path / "media"
    (folder / "STICK").mkdir(parents=True)
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,noexec,nosuid,nodev", "tmpfs", str(folder / "STICK")],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({probe.stderr.strip() or 'not root'})")
    subprocess.run(["umount", str(folder / "STICK")], check=True)
    yield folder
    subprocess.run(["umount", "-l", str(folder / "STICK")], capture_output=True)


def test_real_mount_is_noticed_and_unmounted_safely(mount_dir):
    watcher = StickWatcher(mount_dir)
    assert watcher.poll() == []
    point = mount_dir / "STICK"

    def mount_later():
        time.sleep(0.3)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,noexec,nosuid,nodev", "tmpfs", str(point)], check=True)

    thread = threading.Thread(target=mount_later)
    thread.start()
    # Woken by the kernel's POLLPRI on mountinfo: how soon is printed by benchmarks/bench_timing.py.
    changes = watcher.wait(timeout=5.0)
    thread.join()
    (inserted,) = changes
    assert isinstance(inserted, StickInserted) and inserted.stick.path == str(point) and inserted.stick.hardened

    (point / "file").write_text("export here")
    result = unmount(point)
    assert result.ok and "safe to remove" in result.message
    (removed,) = watcher.poll()
    assert isinstance(removed, StickRemoved)


def test_busy_stick_is_not_called_safe(mount_dir):
    point = mount_dir / "STICK"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], check=True)
    handle = open(point / "open-file", "w")  # something still uses the stick
    try:
        result = unmount(point)
        assert not result.ok and "do not remove" in result.message and "\n" not in result.message
    finally:
        handle.close()
    assert unmount(point).ok


def test_unmount_refuses_a_folder_that_is_not_mounted(tmp_path):
    result = unmount(tmp_path)
    assert not result.ok and "not a mounted stick" in result.message


def test_cli_export_with_eject_says_safe_to_remove(mount_dir, tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 1)
    point = mount_dir / "STICK"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,noexec,nosuid,nodev", "tmpfs", str(point)], check=True)
    done = subprocess.run([sys.executable, "-m", "app", "export", "--to", str(point), "--db", str(db), "--eject"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "exported 1 session(s)" in done.stdout and "safe to remove" in done.stdout
    assert not StickWatcher(mount_dir).sticks()


def test_an_unmount_the_user_may_not_do_says_what_to_install(mount_dir):
    """The kiosk's own user, without the polkit rule, meets umount's "must be superuser": a real
    unmount of a real mount by an unprivileged user (setpriv), told as one line with the fix."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not installed")
    point = mount_dir / "STICK"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], check=True)
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = unmount(point, commands=[[*as_user, "umount", str(point)]])
    assert not result.ok and "\n" not in result.message
    assert "(umount: " in result.message           # what the tool said (not root, or cannot reach the path)
    assert "polkit" in result.message and "deploy/install.sh" in result.message and "do not remove" in result.message
    assert unmount(point).ok                       # root may
