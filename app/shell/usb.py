"""USB stick detection and unmounting for the kiosk's Export screen.

The appliance mounts sticks under ``[export] mount_dir`` (default ``/media/backstep``) with
``noexec,nosuid,nodev`` (the udev rule / systemd-mount of the appliance issue). This module only
*watches* for such mounts and unmounts them; it never reads anything from a stick (the export reads
its own marker file, see :mod:`app.shell.export`) and never follows a link:

- Sticks are found in the kernel's mount table (``/proc/self/mountinfo``), not by listing folders
  on the stick, so nothing on the stick is opened to notice it. The kernel lists canonical paths,
  so a symlink cannot make a stick appear somewhere else.
- :meth:`StickWatcher.poll` is cheap (one small read of a ``/proc`` file); call it every couple of
  seconds, or block in :meth:`StickWatcher.wait` which wakes as soon as the mount table changes
  (the kernel signals ``POLLPRI`` on ``mountinfo``) without busy polling.
- :func:`unmount` flushes and unmounts with ``systemd-mount --umount`` (or ``umount``), and says
  "safe to remove" only when the mount is really gone.

Wiring for the kiosk (the UI itself imports only ``app.core`` and pygame): the composition root polls
a :class:`StickWatcher`, offers Export for each :class:`StickInserted`, asks for the staff PIN when
:func:`export_policy` says so, runs :class:`app.shell.export.ExportJob` on the stick's path and then
:func:`unmount`.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"
#: How often the kiosk should call :meth:`StickWatcher.poll` when it does not use :meth:`wait`.
POLL_INTERVAL_S = 2.0
#: An unmount that takes longer than this is reported as failed (a stuck device), not waited on.
UNMOUNT_TIMEOUT_S = 30.0
#: What umount and systemd-mount say when the user may not unmount (umount: not root; systemd: polkit
#: said no, e.g. without deploy/polkit/50-backstep-usb.rules).
NOT_ALLOWED = ("must be superuser", "permission denied", "access denied", "not permitted",
               "interactive authentication required", "authentication is required")


@dataclass(frozen=True)
class Stick:
    """A mounted stick as the mount table describes it (nothing is read from the stick)."""

    path: str            # the mount point, e.g. /media/backstep/sdb1
    device: str          # e.g. /dev/sdb1
    fstype: str          # vfat, exfat, ntfs3, ext4...
    read_only: bool
    options: tuple[str, ...]

    @property
    def name(self) -> str:
        """What to call it on screen: the mount point's last part (often the stick's label)."""
        return os.path.basename(self.path.rstrip("/")) or self.path

    @property
    def hardened(self) -> bool:
        """Mounted ``noexec,nosuid,nodev``, as the appliance's mount rule does it."""
        return {"noexec", "nosuid", "nodev"} <= set(self.options)


@dataclass(frozen=True)
class StickInserted:
    stick: Stick


@dataclass(frozen=True)
class StickRemoved:
    stick: Stick


@dataclass(frozen=True)
class ExportPolicy:
    """What the Export screen needs from the config, as plain values for the UI."""

    mount_dir: str
    automatic: bool        # export as soon as a stick appears (still behind the PIN if required)
    requires_pin: bool     # ask for the staff PIN before exporting: the logs hold member data
    pseudonymize: bool


def export_policy(config) -> ExportPolicy:
    section = config.export
    return ExportPolicy(mount_dir=section.mount_dir, automatic=bool(section.automatic),
                        requires_pin=bool(section.require_pin), pseudonymize=bool(section.pseudonymize_members))


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\040`` etc."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Stick]:
    """Every mount in a ``/proc/<pid>/mountinfo`` text (see proc(5))."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if "-" not in parts or len(parts) < 7:
            continue
        sep = parts.index("-")
        if len(parts) < sep + 3:
            continue
        options = set(parts[5].split(",")) | set(parts[sep + 3].split(",") if len(parts) > sep + 3 else [])
        mounts.append(Stick(path=_unescape(parts[4]), device=_unescape(parts[sep + 2]), fstype=parts[sep + 1],
                            read_only="ro" in parts[5].split(","), options=tuple(sorted(options))))
    return mounts


class StickWatcher:
    """Notice sticks mounted below *mount_dir* (never *mount_dir* itself).

    :param mount_dir: ``[export] mount_dir``; resolved once here (it is on the station, not a stick).
    :param mountinfo: the mount table to read; tests pass their own file.
    """

    def __init__(self, mount_dir: str | os.PathLike, mountinfo: str = MOUNTINFO):
        self.mount_dir = os.path.realpath(os.fspath(mount_dir)).rstrip("/") or "/"
        self.mountinfo = mountinfo
        self._known: dict[str, Stick] = {}

    def sticks(self) -> list[Stick]:
        """The sticks mounted below *mount_dir* right now, by path."""
        try:
            with open(self.mountinfo, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return []
        prefix = self.mount_dir + "/" if self.mount_dir != "/" else "/"
        found: dict[str, Stick] = {}
        for mount in parse_mountinfo(text):
            if mount.path.startswith(prefix) and mount.path != self.mount_dir:
                found[mount.path] = mount  # the last mount on a path is the visible one
        return [found[path] for path in sorted(found)]

    def poll(self) -> list[StickInserted | StickRemoved]:
        """What changed since the last call (the first call reports every stick already there)."""
        current = {stick.path: stick for stick in self.sticks()}
        changes: list[StickInserted | StickRemoved] = []
        for path, stick in self._known.items():
            if path not in current or current[path].device != stick.device:
                changes.append(StickRemoved(stick))
        for path, stick in current.items():
            if path not in self._known or self._known[path].device != stick.device:
                changes.append(StickInserted(stick))
        self._known = current
        return changes

    def wait(self, timeout: float = POLL_INTERVAL_S) -> list[StickInserted | StickRemoved]:
        """Block up to *timeout* seconds for a mount-table change, then :meth:`poll`.

        Uses the kernel's ``POLLPRI`` on mountinfo (no busy loop); where that is missing it simply
        sleeps *timeout* and polls.
        """
        try:
            fd = os.open(self.mountinfo, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            fd = None
        try:
            if fd is not None:
                poller = select.poll()
                poller.register(fd, select.POLLPRI | select.POLLERR)
                os.read(fd, 1 << 16)  # arm: the kernel signals changes after the first read
                poller.poll(max(timeout, 0) * 1000)
            else:
                select.select([], [], [], max(timeout, 0))
        finally:
            if fd is not None:
                os.close(fd)
        return self.poll()


@dataclass(frozen=True)
class UnmountResult:
    ok: bool
    message: str


def is_mounted(path: str | os.PathLike, mountinfo: str = MOUNTINFO) -> bool:
    target = os.path.realpath(os.fspath(path)).rstrip("/") or "/"
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as handle:
            return any(m.path == target for m in parse_mountinfo(handle.read()))
    except OSError:
        return False


def unmount(path: str | os.PathLike, *, mountinfo: str = MOUNTINFO, commands: list[list[str]] | None = None) -> UnmountResult:
    """Flush and unmount the stick at *path*; ``ok`` only when the mount is gone.

    Tries ``systemd-mount --umount`` (which also stops the automount unit the appliance uses), then
    ``umount``. The message is one line for the screen.
    """
    target = os.path.realpath(os.fspath(path))
    if not is_mounted(target, mountinfo):
        return UnmountResult(False, f"{target} is not a mounted stick; nothing to unmount")
    os.sync()  # the export fsynced its files; this also covers anything else the kernel still holds
    if commands is None:
        commands = [[tool, "--umount", target] if Path(tool).name == "systemd-mount" else [tool, target]
                    for tool in (shutil.which("systemd-mount"), shutil.which("umount")) if tool]
    last = "no unmount tool found (systemd-mount or umount)"
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=UNMOUNT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = f"{command[0]}: {exc}"
            continue
        if not is_mounted(target, mountinfo):
            return UnmountResult(True, f"the stick ({target}) is safe to remove")
        said = (done.stderr or done.stdout or "").strip().splitlines()
        last = said[-1] if said else f"{Path(command[0]).name} exit status {done.returncode}"
    said = last.lower()
    if "busy" in said:
        hint = "; close anything that uses the stick and try again"
    elif any(words in said for words in NOT_ALLOWED):
        hint = ("; this user may not unmount sticks: install Backstep's polkit rule for the kiosk user "
                "(sudo deploy/install.sh), or unmount as root (sudo systemd-umount " + target + ")")
    else:
        hint = ""
    return UnmountResult(False, f"could not unmount {target} ({last}){hint}; do not remove the stick yet")
