"""The appliance files in deploy/: the systemd unit, the scripts, the example config.

Tools that may be missing on a developer's machine (systemd-analyze, shellcheck) skip their tests;
CI installs them (systemd, shellcheck).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from app.config import Config, parse_config
from app.core import record

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "backstep.service"
SCRIPTS = [DEPLOY / "install.sh", DEPLOY / "uninstall.sh", DEPLOY / "build-wheel.sh", DEPLOY / "bin" / "backstep-usb-mount"]
#: The hardening budget: `systemd-analyze security --offline=yes` must score this or lower.
SECURITY_BUDGET = 2.5

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
needs_shellcheck = pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")


# ------------------------------------------------------------------------------------- the unit

def _verify(unit_dir: Path) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` insists that ExecStart's binary exists; /opt/backstep is not there
    off the appliance. A drop-in (the real systemd mechanism) points ExecStart at a stand-in, so
    every other line of the unexchanged unit file is verified."""
    stand_in = unit_dir / "backstep"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    dropin = unit_dir / "backstep.service.d"
    dropin.mkdir(exist_ok=True)
    (dropin / "exec.conf").write_text(f"[Service]\nExecStart=\nExecStart={stand_in} run\n")
    return subprocess.run(["systemd-analyze", "verify", str(unit_dir / "backstep.service")],
                          capture_output=True, text=True, timeout=60)


@needs_analyze
def test_unit_verifies_clean(tmp_path):
    shutil.copy(UNIT, tmp_path / "backstep.service")
    result = _verify(tmp_path)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", output


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path):
    """The check above can fail: a misspelt directive makes verify speak."""
    (tmp_path / "backstep.service").write_text(UNIT.read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    output = (lambda r: r.stdout + r.stderr)(_verify(tmp_path))
    assert "NoNewPrivilege" in output


def _exposure(unit: Path) -> float:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout + result.stderr)
    assert match, f"no score in: {result.stdout[-500:]}{result.stderr[-500:]}"
    return float(match.group(1))


@needs_analyze
def test_security_exposure_within_budget():
    score = _exposure(UNIT)
    print(f"systemd-analyze security --offline=yes deploy/backstep.service: {score}")
    assert score <= SECURITY_BUDGET


@needs_analyze
def test_the_hub_sync_unit_verifies_and_is_hardened(tmp_path):
    """backstep-sync.service (docs/hub.md) runs beside the kiosk with the network it needs and no more."""
    unit = DEPLOY / "backstep-sync.service"
    shutil.copy(unit, tmp_path / "backstep-sync.service")
    stand_in = tmp_path / "backstep"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    (tmp_path / "backstep-sync.service.d").mkdir()
    (tmp_path / "backstep-sync.service.d" / "exec.conf").write_text(f"[Service]\nExecStart=\nExecStart={stand_in} sync\n")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "backstep-sync.service")],
                            capture_output=True, text=True, timeout=60)
    output = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                       if "backstep.service" not in line)       # After= names the kiosk's unit
    assert result.returncode == 0 and output.strip() == "", output
    assert _exposure(unit) <= SECURITY_BUDGET
    assert "install -m 0644 \"$SOURCE/deploy/backstep-sync.service\"" in (DEPLOY / "install.sh").read_text()


@needs_analyze
def test_security_score_reacts_to_hardening(tmp_path):
    """The parser reads a real number: an unhardened unit scores far worse."""
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nType=notify\nExecStart=/bin/true\n")
    assert _exposure(bare) > 8


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_has_the_required_settings():
    d = _directives(UNIT.read_text())
    one = {k: v[-1] for k, v in d.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["WatchdogSec"] == "10" and one["Restart"] == "on-failure"
    assert "StartLimitIntervalSec" in one and "StartLimitBurst" in one
    assert one["User"] == "backstep"
    assert set(one["SupplementaryGroups"].split()) == {"video", "render", "input", "gpio", "dialout", "audio"}
    assert one["ProtectSystem"] == "strict" and one["NoNewPrivileges"] == "yes"
    assert one["PrivateNetwork"] == "yes" and one["DevicePolicy"] == "closed"
    assert one["CapabilityBoundingSet"] == "" and one["UMask"] == "0077"
    assert "PrivateDevices" not in one  # would hide /dev/dri and the GPIO chips (comment says why)
    assert {"/var/lib/backstep", "-/media/backstep"} <= set(d["ReadWritePaths"])
    allowed = " ".join(d["DeviceAllow"])
    for device in ("char-drm", "char-input", "char-gpiochip", "/dev/gpiomem", "char-ttyUSB", "char-alsa"):
        assert device in allowed
    assert one["SystemCallFilter"] and d["SystemCallFilter"][0] == "@system-service"
    assert one["ExecStart"].startswith("/opt/backstep/venv/bin/backstep run")


def test_unit_matches_the_installer():
    """The groups and paths the unit relies on are the ones install.sh creates."""
    install = (DEPLOY / "install.sh").read_text()
    groups = re.search(r"DEVICE_GROUPS=\(([^)]*)\)", install).group(1).split()
    unit_groups = _directives(UNIT.read_text())["SupplementaryGroups"][-1].split()
    assert sorted(groups) == sorted(unit_groups)
    assert "PREFIX=/opt/backstep\nVENV=$PREFIX/venv" in install and "MEDIA=/media/backstep" in install


# -------------------------------------------------------------------------------------- scripts

@needs_shellcheck
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script):
    result = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_executable_and_strict(script):
    assert script.stat().st_mode & stat.S_IXUSR
    head = script.read_text().splitlines()[:25]
    assert any(line.startswith("set -eu") for line in head)


#: Commands that change a system. In a dry run none of them may run: each is shadowed on PATH by a
#: script that records the call, and the test asserts the record stays empty.
MUTATING = ("apt-get", "useradd", "userdel", "groupadd", "groupdel", "usermod", "systemctl", "udevadm",
            "runuser", "raspi-config", "install", "ln", "mv", "rm", "cp", "rmdir", "find", "systemd-umount")


def _tripwire_path(tmp_path: Path) -> tuple[dict, Path]:
    bin_dir = tmp_path / "tripwire"
    bin_dir.mkdir()
    log = tmp_path / "executed.log"
    for name in MUTATING:
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    return env, log


def test_install_dry_run_prints_every_action_and_changes_nothing(tmp_path):
    env, log = _tripwire_path(tmp_path)
    result = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--dry-run", "--sd-card-friendly"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not log.exists(), f"dry run executed: {log.read_text()}"
    out = result.stdout
    for expected in (
        "+ apt-get update",
        "apt-get install -y --no-install-recommends python3",
        "libgbm1",
        "/opt/backstep/venv/bin/pip install",
        "[pi]",
        "/etc/systemd/system/backstep.service",
        "/etc/udev/rules.d/90-backstep-usb.rules",
        "/etc/udev/rules.d/99-backstep-treadmill.rules",
        "/opt/backstep/bin/backstep-usb-mount",
        "+ systemctl enable backstep.service",
        "Storage=volatile",
        "backstep doctor",
    ):
        assert expected in out or expected.replace("[pi]", "\\[pi\\]") in out, f"missing {expected!r}"
    # The config is installed only where none exists; an existing one is kept, never overwritten.
    if Path("/etc/backstep/config.toml").exists():
        assert "keeping the existing /etc/backstep/config.toml" in out
        assert not re.search(r"^\+ .*/etc/backstep/config\.toml$", out, re.M)
    else:
        assert re.search(r"^\+ install -m 0640 .*config\.example\.toml /etc/backstep/config\.toml$", out, re.M)


def test_install_refuses_unknown_options():
    result = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--frobnicate" in result.stderr


def test_overlayroot_needs_a_data_partition(tmp_path):
    if os.path.ismount("/var/lib/backstep"):
        pytest.skip("this machine has a data partition at /var/lib/backstep")
    env, log = _tripwire_path(tmp_path)
    result = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--dry-run", "--overlayroot"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "data partition" in result.stderr
    assert not log.exists()


#: In a private mount namespace: a Pi's boot partition, a data partition (a tmpfs) mounted at
#: /var/lib/backstep, and /etc/fstab listing it or not; then the installer's dry run.
DATA_PARTITION_SCRIPT = r"""
set -eu
work=$1 listed=$2; shift 2
mount -t tmpfs tmpfs /boot && mkdir /boot/firmware && /bin/cp "$work/cmdline.txt" /boot/firmware/cmdline.txt
mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/backstep && mount -t tmpfs backstep-data /var/lib/backstep
/bin/cp /etc/fstab "$work/fstab" 2>/dev/null || : > "$work/fstab"
if [ "$listed" = yes ]; then
    echo 'LABEL=backstep-data /var/lib/backstep ext4 defaults,noatime,nodev,nosuid,noexec 0 2' >> "$work/fstab"
fi
mount --bind "$work/fstab" /etc/fstab
exec bash "$@"
"""


@pytest.mark.parametrize("listed", [True, False], ids=["in-fstab", "mounted-by-hand"])
def test_overlayroot_with_a_data_partition(tmp_path, listed):
    """A data partition mounted by hand would be gone after the reboot the overlay needs: it must be
    in /etc/fstab too. With it, the dry run plans the overlay with recurse=0."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a private mount namespace)")
    (tmp_path / "cmdline.txt").write_text(PI_CMDLINE + "\n")
    env, log = _tripwire_path(tmp_path)
    (tmp_path / "tripwire" / "raspi-config").write_text(f'#!/bin/sh\necho "raspi-config $*" >> "{log}"\n')
    (tmp_path / "tripwire" / "raspi-config").chmod(0o755)
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", DATA_PARTITION_SCRIPT,
                             "data", str(tmp_path), "yes" if listed else "no", str(DEPLOY / "install.sh"),
                             "--dry-run", "--overlayroot", "--no-doctor"],
                            capture_output=True, text=True, env=env, timeout=120)
    if "unshare" in result.stderr and result.returncode != 0:
        pytest.skip(f"no private mount namespace here: {result.stderr.strip()}")
    assert not log.exists(), f"dry run executed: {log.read_text()}"
    if listed:
        assert result.returncode == 0, result.stderr
        assert "+ raspi-config nonint enable_overlayfs" in result.stdout
        assert "overlayroot=tmpfs:recurse=0" in result.stdout and "/boot/firmware/cmdline.txt" in result.stdout
    else:
        assert result.returncode == 1 and "/etc/fstab" in result.stderr and result.stderr.count("\n") == 1


#: Raspberry Pi OS Bookworm's /boot/firmware/cmdline.txt as Raspberry Pi Imager writes it.
PI_CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes "
              "rootwait quiet splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB")

#: raspi-config's overlay switch, as it edits cmdline.txt: enable puts the bare word first, disable
#: removes the bare word only.
RASPI_CONFIG = """#!/bin/sh
case "$2" in
    enable_overlayfs) grep -q overlayroot= "$CMDLINE" || sed -i "s/^/overlayroot=tmpfs /" "$CMDLINE" ;;
    disable_overlayfs) sed -i "s/\\(.*\\)overlayroot=tmpfs \\(.*\\)/\\1\\2/" "$CMDLINE" ;;
esac
"""


def _overlay(tmp_path: Path, function: str, cmdline: str = PI_CMDLINE) -> list[str]:
    """Run install.sh's *function* (sourced, as the installer runs it) on a scratch cmdline.txt with
    raspi-config answered by a stand-in; the words of the resulting command line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "raspi-config").write_text(RASPI_CONFIG)
    (bin_dir / "raspi-config").chmod(0o755)
    file = tmp_path / "cmdline.txt"
    if not file.exists():
        file.write_text(cmdline + "\n")
    script = 'f=$1 fn=$2; set --; source "$f"; CMDLINE_TXT=$CMDLINE; "$fn"'
    result = subprocess.run(["bash", "-c", script, "install.sh", str(DEPLOY / "install.sh"), function],
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CMDLINE=str(file)))
    assert result.returncode == 0, result.stderr
    text = file.read_text()
    assert text.count("\n") == 1, "cmdline.txt must stay one line"
    return text.split()


def _overlayroot_options(words: list[str]) -> dict[str, str] | None:
    """What overlayroot reads from the command line: overlayroot=MODE[:opt=val,...] (the last word)."""
    values = [w.split("=", 1)[1] for w in words if w.startswith("overlayroot=")]
    if not values:
        return None
    mode, _, options = values[-1].partition(":")
    parsed = dict(o.split("=", 1) for o in options.split(",") if "=" in o)
    return {"mode": mode, "recurse": parsed.get("recurse", "1")}  # overlayroot's default: recurse=1


def test_overlay_root_keeps_the_data_partition_out_of_the_overlay(tmp_path):
    """recurse=0: the RAM overlay covers / only; /var/lib/backstep (its own partition) stays on disk."""
    words = _overlay(tmp_path, "overlay_root")
    assert _overlayroot_options(words) == {"mode": "tmpfs", "recurse": "0"}
    assert [w for w in words if w.startswith("overlayroot=")] == ["overlayroot=tmpfs:recurse=0"]
    assert [w for w in words if not w.startswith("overlayroot=")] == PI_CMDLINE.split()
    assert _overlay(tmp_path, "overlay_root") == words  # a second run changes nothing


def test_raspi_config_alone_would_overlay_the_data_partition(tmp_path):
    """The check above can fail: raspi-config's own word leaves overlayroot's recurse=1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "raspi-config").write_text(RASPI_CONFIG)
    (bin_dir / "raspi-config").chmod(0o755)
    file = tmp_path / "cmdline.txt"
    file.write_text(PI_CMDLINE + "\n")
    subprocess.run([str(bin_dir / "raspi-config"), "nonint", "enable_overlayfs"], check=True,
                   env=dict(os.environ, CMDLINE=str(file)))
    assert _overlayroot_options(file.read_text().split()) == {"mode": "tmpfs", "recurse": "1"}


def test_no_overlay_root_removes_the_overlay_again(tmp_path):
    _overlay(tmp_path, "overlay_root")
    words = _overlay(tmp_path, "no_overlay_root")
    assert _overlayroot_options(words) is None and words == PI_CMDLINE.split()


def test_overlayroot_dry_run_shows_recurse_0(tmp_path):
    """In a dry run on a Pi-like machine the printed plan says recurse=0 (checked on the function:
    the preflight's data-partition check needs a real mount)."""
    file = tmp_path / "cmdline.txt"
    file.write_text(PI_CMDLINE + "\n")
    env, log = _tripwire_path(tmp_path)
    (tmp_path / "tripwire" / "raspi-config").write_text(f'#!/bin/sh\necho "raspi-config $*" >> "{log}"\n')
    (tmp_path / "tripwire" / "raspi-config").chmod(0o755)
    script = 'f=$1; set --; source "$f"; DRY_RUN=1; CMDLINE_TXT=$CMDLINE; overlay_root'
    result = subprocess.run(["bash", "-c", script, "install.sh", str(DEPLOY / "install.sh")], capture_output=True,
                            text=True, env=dict(env, CMDLINE=str(file)), timeout=60)
    assert result.returncode == 0, result.stderr
    assert not log.exists() and file.read_text() == PI_CMDLINE + "\n"
    assert "+ raspi-config nonint enable_overlayfs" in result.stdout
    assert "overlayroot=tmpfs:recurse=0" in result.stdout


@pytest.mark.parametrize("args", [["--dry-run"], ["--dry-run", "--purge"]])
def test_uninstall_dry_run_changes_nothing(tmp_path, args):
    env, log = _tripwire_path(tmp_path)
    result = subprocess.run(["bash", str(DEPLOY / "uninstall.sh"), *args], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not log.exists(), f"dry run executed: {log.read_text()}"
    assert "+ rm -rf /opt/backstep" in result.stdout
    if "--purge" in args:
        assert "+ rm -rf /var/lib/backstep /etc/backstep" in result.stdout
    else:
        assert "/var/lib/backstep" not in "\n".join(l for l in result.stdout.splitlines() if l.startswith("+"))
        assert "kept: sessions in /var/lib/backstep" in result.stdout


# ---------------------------------------------------------------------------------- USB sticks

def _usb_mount(tmp_path: Path, props: dict[str, str], mounted: bool = False) -> list[str]:
    """Run backstep-usb-mount with udevadm/systemd-mount/id/mountpoint answered by stand-ins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "systemd-mount.args"
    scripts = {
        "udevadm": "cat <<'EOF'\n" + "".join(f"{k}={v}\n" for k, v in props.items()) + "EOF\n",
        "systemd-mount": f'for a in "$@"; do printf "%s\\n" "$a"; done > "{calls}"\n',
        "id": 'case "$1" in -u) echo 999;; -g) echo 994;; *) exit 1;; esac\n',
        "mountpoint": f"exit {0 if mounted else 1}\n",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")
    result = subprocess.run([str(DEPLOY / "bin" / "backstep-usb-mount"), "add", "/dev/sda1"],
                            capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines()


def test_usb_stick_is_mounted_noexec_for_the_service_user(tmp_path):
    args = _usb_mount(tmp_path, {"ID_FS_TYPE": "vfat", "ID_FS_LABEL": "GYM STICK", "ID_FS_UUID": "1234-ABCD"})
    options = next(a for a in args if a.startswith("--options=")).split("=", 1)[1].split(",")
    assert {"noexec", "nosuid", "nodev", "uid=999", "gid=994"} <= set(options)
    assert args[-2:] == ["/dev/sda1", "/media/backstep/GYM_STICK"]
    assert "--no-block" in args and "--collect" in args and "--type=vfat" in args


def test_a_hostile_label_cannot_leave_the_media_folder(tmp_path):
    args = _usb_mount(tmp_path, {"ID_FS_TYPE": "exfat", "ID_FS_LABEL": "../../etc/cron.d", "ID_FS_UUID": "X"})
    target = args[-1]
    assert target.startswith("/media/backstep/") and "/" not in target[len("/media/backstep/"):]
    assert ".." not in target[len("/media/backstep/"):].split("_")[0]


def test_a_stick_without_label_uses_its_uuid_and_same_labels_do_not_collide(tmp_path):
    assert _usb_mount(tmp_path, {"ID_FS_TYPE": "vfat", "ID_FS_UUID": "5E2B-11F0"})[-1] == "/media/backstep/5E2B-11F0"
    assert _usb_mount(tmp_path, {"ID_FS_TYPE": "vfat", "ID_FS_LABEL": "USB"}, mounted=True)[-1] == "/media/backstep/USB-sda1"


def test_only_fat_and_exfat_sticks_are_mounted(tmp_path):
    rule = (DEPLOY / "udev" / "90-backstep-usb.rules").read_text()
    assert 'ENV{ID_BUS}!="usb", GOTO="backstep_usb_end"' in rule
    assert 'ENV{ID_FS_TYPE}!="vfat|exfat", GOTO="backstep_usb_end"' in rule
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "udevadm").write_text("#!/bin/sh\necho ID_FS_TYPE=ext4\n")
    (bin_dir / "udevadm").chmod(0o755)
    result = subprocess.run([str(DEPLOY / "bin" / "backstep-usb-mount"), "add", "/dev/sdb1"], capture_output=True,
                            text=True, env=dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin"))
    assert result.returncode == 1 and "ext4" in result.stderr


def test_treadmill_rule_names_the_adapter():
    rule = (DEPLOY / "udev" / "99-backstep-treadmill.rules").read_text()
    active = [l for l in rule.splitlines() if l.strip() and not l.startswith("#")]
    assert active and all('SYMLINK+="treadmill"' in l and 'GROUP="dialout"' in l for l in active)
    vendors = {re.search(r'idVendor}=="(\w+)"', l).group(1) for l in active}
    assert {"0403", "067b", "1a86"} <= vendors  # FTDI, Prolific, CH340
    assert "ATTRS{serial}" in rule  # instructions for telling two adapters apart


# ------------------------------------------------------------------------------- example config

EXAMPLE = DEPLOY / "config.example.toml"


def test_example_config_parses():
    config = parse_config(EXAMPLE.read_text(), str(EXAMPLE))
    assert config.treadmill.mode == "cue"  # a new station starts without a link


def _uncommented(text: str) -> str:
    return "\n".join(re.sub(r"^# ([a-z_]+ = .*)$", r"\1", line) for line in text.splitlines())


def test_every_commented_example_is_valid_and_shows_the_default():
    config = parse_config(_uncommented(EXAMPLE.read_text()), "uncommented example")
    # belt_pulse_pin has no default (no sensor); the example shows a typical pin.
    expected = record.replace(Config(), source="uncommented example",
                                   gpio=record.replace(Config().gpio, belt_pulse_pin=5))
    assert config == expected


def test_every_option_is_documented_in_the_example():
    text = EXAMPLE.read_text()
    from app import config as cfg

    for section, cls in cfg._SECTIONS.items():
        assert f"[{section}]" in text
        for f in record.fields(cls):
            assert re.search(rf"^#? ?{f.name} = ", text, re.M), f"[{section}] {f.name} is not in {EXAMPLE.name}"
    for option in ("units", *cfg._SAFETY_SECONDS, *cfg._SAFETY_CAPS):
        assert re.search(rf"^#? ?{option} = ", text, re.M), f"[safety] {option} is not in {EXAMPLE.name}"


# ------------------------------------------------------------------- MemoryDenyWriteExecute=yes

#: PR_SET_MDWE / PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3): the kernel rule systemd's
#: MemoryDenyWriteExecute=yes enforces, applied to ourselves before anything else is loaded.
MDWE_PRELUDE = textwrap.dedent("""
    import ctypes, sys
    if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
        print("NO-MDWE"); sys.exit(0)
""")


def _mdwe_python(code: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MDWE_PRELUDE + code], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_pygame_needs_no_writable_executable_memory():
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    code = textwrap.dedent("""
        import mmap, sqlite3, pygame
        try:
            mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            print("W+X ALLOWED")
        except OSError:
            pass
        pygame.init()
        screen = pygame.display.set_mode((1280, 800))
        screen.blit(pygame.font.Font(None, 48).render("HOLD THE RAILS", True, (255, 255, 255)), (10, 10))
        pygame.display.flip()
        pygame.mixer.init()
        callback = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 7)
        assert callback() == 7
        sqlite3.connect(":memory:").execute("create table t (x)")
        print("OK")
    """)
    result = _mdwe_python(code, env)
    if "NO-MDWE" in result.stdout:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "W+X ALLOWED" not in result.stdout  # the rule really was in force
    assert result.stdout.strip().endswith("OK")


@pytest.mark.slow
def test_kiosk_reaches_ready_without_writable_executable_memory(tmp_path):
    if not (ROOT / "app" / "commands" / "run.py").exists():
        pytest.skip("app/commands/run.py (backstep run) is not in this checkout yet")
    sock_dir = tempfile.mkdtemp(prefix="bs-mdwe-")
    name = os.path.join(sock_dir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    sock.settimeout(1)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=name,
               BACKSTEP_DB=str(tmp_path / "b.db"), BACKSTEP_CONFIG=str(tmp_path / "c.toml"))
    (tmp_path / "c.toml").write_text("")
    code = "import runpy\nsys.argv = ['backstep', 'run', '--sim', '--windowed']\nrunpy.run_module('app', run_name='__main__')\n"
    proc = subprocess.Popen([sys.executable, "-c", MDWE_PRELUDE + code], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and not ready and proc.poll() is None:
            try:
                ready = b"READY=1" in sock.recv(4096)
            except socket.timeout:
                pass
        if proc.poll() is not None and "NO-MDWE" in (proc.stdout.read() or ""):
            pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
        assert ready, f"no READY=1 under MDWE; stderr: {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


# ------------------------------------------------------------------ eject: the polkit rule, live

POLKIT_RULE = DEPLOY / "polkit" / "50-backstep-usb.rules"
MANAGE_UNITS = "org.freedesktop.systemd1.manage-units"

#: Runs inside a private mount namespace (unshare): our rules folder and a passwd with a backstep
#: user are bind-mounted over the real ones, a private system bus on /run/dbus, the real polkitd on
#: it; then pkcheck asks polkitd what systemd asks it before stopping a unit for that user.
POLKIT_SCRIPT = r"""
set -eu
work=$1; shift
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; wait' EXIT
mount --bind "$work/rules.d" /etc/polkit-1/rules.d
mount --bind "$work/passwd" /etc/passwd
mount -t tmpfs tmpfs /run/dbus
dbus-daemon --system --nofork --nopidfile & pids="$pids $!"
for _ in $(seq 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
/usr/lib/polkit-1/polkitd --no-debug & pids="$pids $!"
for _ in $(seq 200); do
    dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q true && break
    sleep 0.05
done
for case in "$@"; do
    uid=${case%%:*}; rest=${case#*:}; action=${rest%%:*}; rest=${rest#*:}; verb=${rest%%:*}; unit=${rest#*:}
    setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 30 & subject=$!
    # Ask only once the subject runs as that user (setpriv starts as root).
    for _ in $(seq 200); do
        [ "$(awk '/^Uid:/ { print $2 }' "/proc/$subject/status")" = "$uid" ] && break
        sleep 0.01
    done
    if pkcheck --action-id "$action" --process "$subject" --detail unit "$unit" --detail verb "$verb" >/dev/null 2>&1
    then echo "$case yes"; else echo "$case no"; fi
    kill "$subject"
done
"""

BACKSTEP_UID, OTHER_UID = 64123, 64124


def _polkit_answers(tmp_path: Path, rules: list[Path], cases: list[tuple[int, str, str, str]]) -> dict:
    for tool in ("unshare", "dbus-daemon", "dbus-send", "pkcheck", "setpriv"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
    if not Path("/usr/lib/polkit-1/polkitd").exists() or os.geteuid() != 0:
        pytest.skip("needs polkitd and root (a private mount namespace)")
    (tmp_path / "rules.d").mkdir()
    for rule in rules:
        shutil.copy(rule, tmp_path / "rules.d" / rule.name)
    passwd = Path("/etc/passwd").read_text()
    passwd += f"backstep:x:{BACKSTEP_UID}:{BACKSTEP_UID}::/nonexistent:/usr/sbin/nologin\n"
    passwd += f"someone:x:{OTHER_UID}:{OTHER_UID}::/nonexistent:/usr/sbin/nologin\n"
    (tmp_path / "passwd").write_text(passwd)
    args = [f"{uid}:{action}:{verb}:{unit}" for uid, action, verb, unit in cases]
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", POLKIT_SCRIPT, "polkit",
                             str(tmp_path), *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"no private mount namespace here: {result.stderr.strip()}")
    answers = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert len(answers) == len(cases), result.stdout + result.stderr
    return {case: answers[arg] == "yes" for case, arg in zip(cases, args)}


def test_polkit_lets_the_kiosk_unmount_its_sticks_and_nothing_else(tmp_path):
    allowed = [
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "media-backstep-GYM_STICK.mount"),
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "media-backstep-5E2B\\x2d11F0.mount"),  # /media/backstep/5E2B-11F0
    ]
    refused = [
        (BACKSTEP_UID, MANAGE_UNITS, "start", "media-backstep-GYM_STICK.mount"),
        (BACKSTEP_UID, MANAGE_UNITS, "restart", "media-backstep-GYM_STICK.mount"),
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "var-lib-backstep.mount"),
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "media-backstep-a-b.mount"),         # deeper than a stick
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "backstep.service"),
        (BACKSTEP_UID, MANAGE_UNITS, "stop", "media-backstep-GYM.mount.service"),
        (BACKSTEP_UID, "org.freedesktop.systemd1.manage-unit-files", "stop", "media-backstep-GYM_STICK.mount"),
        (OTHER_UID, MANAGE_UNITS, "stop", "media-backstep-GYM_STICK.mount"),
    ]
    answers = _polkit_answers(tmp_path, [POLKIT_RULE], allowed + refused)
    assert [answers[c] for c in allowed] == [True] * len(allowed)
    assert [c for c in refused if answers[c]] == []


def test_without_the_rule_the_kiosk_may_not_unmount(tmp_path):
    """The check above can fail: polkit's default for manage-units is an administrator's password."""
    case = (BACKSTEP_UID, MANAGE_UNITS, "stop", "media-backstep-GYM_STICK.mount")
    assert _polkit_answers(tmp_path, [], [case]) == {case: False}


def test_installer_ships_the_eject_permission():
    install = (DEPLOY / "install.sh").read_text()
    assert "deploy/polkit/50-backstep-usb.rules\" /etc/polkit-1/rules.d/50-backstep-usb.rules" in install
    assert re.search(r"^\s+dbus polkitd\s", install, re.M)
    assert "/etc/polkit-1/rules.d/50-backstep-usb.rules" in (DEPLOY / "uninstall.sh").read_text()
    # The user the rule names is the one the installer creates and the unit runs as.
    assert 'subject.user !== "backstep"' in POLKIT_RULE.read_text() and "SERVICE_USER=backstep" in install
