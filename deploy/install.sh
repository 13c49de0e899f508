#!/usr/bin/env bash
# Install the Backstep kiosk on Raspberry Pi OS Lite (Bookworm, 64-bit) - or check what it would do.
#
#   sudo deploy/install.sh                    install or update; safe to run again
#   deploy/install.sh --dry-run               print every action, change nothing (no root needed)
#   sudo deploy/install.sh --sd-card-friendly also: journal in RAM, noatime on /
#   sudo deploy/install.sh --overlayroot      also: read-only root with an overlay (needs a data
#                                             partition mounted at /var/lib/backstep, in /etc/fstab)
#   sudo deploy/install.sh --no-overlayroot   only: turn the overlay off again (for updates)
#
# What it does, in order: apt packages; the backstep user and its device groups; a venv in
# /opt/backstep with backstep[pi] installed from a wheel built outside the checkout (the built-in
# programs, fonts and sounds are inside the package); /etc/backstep/config.toml from
# deploy/config.example.toml (never overwriting one that exists); the systemd unit, the udev rules and
# the USB mount helper; the display set-up (KMS); enables the service; runs `backstep doctor`.
# See deploy/README.md for the whole path from a blank card.
set -euo pipefail

PREFIX=/opt/backstep
VENV=$PREFIX/venv
ETC=/etc/backstep
STATE=/var/lib/backstep
MEDIA=/media/backstep
SERVICE_USER=backstep
# Debian's own Python (3.11 on Bookworm), never one from a user's PATH (pyenv, conda): the service
# user must be able to run it, and apt keeps it patched.
PYTHON=/usr/bin/python3
# The package's optional parts for the Pi: lgpio (gpiozero's pin factory), systemd-python.
EXTRAS="[pi]"
# Device groups the kiosk needs (same list as SupplementaryGroups= in backstep.service).
DEVICE_GROUPS=(video render input gpio dialout audio)
# The Debian packages the station needs, one group a line with the reason; add yours to the list.
APT_PACKAGES=(
    python3 python3-venv             # the venv in /opt/backstep, on Debian's own Python
    python3-dev gcc pkg-config libsystemd-dev swig  # build systemd-python and lgpio (the [pi]
                                     # extra) when pip finds no wheel for them
    libdrm2 libgbm1 libegl1 libgles2 # loaded at run time by the SDL in pip's pygame-ce wheel (KMSDRM)
    libudev1                         # SDL's touchscreen input (evdev)
    libasound2                       # sound
    udev util-linux                  # the USB stick and treadmill rules; findmnt, mountpoint
    dbus polkitd                     # the kiosk's own eject: systemd asks polkit (deploy/polkit/)
    espeak-ng                        # spoken cues, rendered to WAV and played through the kiosk's sound
)
# Raspberry Pi OS only (not in plain Debian): the C library lgpio's Python module links against.
APT_OPTIONAL=(liblgpio-dev)

DRY_RUN=0
SD_CARD=0
OVERLAY=0
NO_OVERLAY=0
# The word on the kernel command line that turns overlayroot on. recurse=0: only / gets the RAM
# overlay. overlayroot's default (recurse=1) also overlays every filesystem mounted below / - the
# data partition at /var/lib/backstep too - so each reboot would wipe the sessions.
OVERLAYROOT_TOKEN=overlayroot=tmpfs:recurse=0
# The kernel command line file; empty: the Pi's own (see cmdline_txt). The tests set a scratch file.
CMDLINE_TXT=
RUN_DOCTOR=1
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORIG_ARGS=("$@")

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<EOF

Options:
  --dry-run           print every action instead of doing it
  --sd-card-friendly  journald in RAM (Storage=volatile), noatime on the root filesystem
  --overlayroot       enable Raspberry Pi OS's overlay root (raspi-config nonint enable_overlayfs),
                      with $OVERLAYROOT_TOKEN so the data partition stays writable
  --no-overlayroot    only turn the overlay root off (takes effect at the next reboot)
  --source DIR        the Backstep checkout to install (default: $SOURCE)
  --no-doctor         skip 'backstep doctor' at the end
  -h, --help          this help
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --sd-card-friendly) SD_CARD=1 ;;
        --overlayroot) OVERLAY=1 ;;
        --no-overlayroot) NO_OVERLAY=1 ;;
        --no-doctor) RUN_DOCTOR=0 ;;
        --source)
            [ $# -ge 2 ] || { echo "install.sh: --source needs a folder" >&2; exit 2; }
            SOURCE=$(cd "$2" && pwd); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '==> %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# Every change to the system goes through run: printed in a dry run, done otherwise.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$(printf '%q ' "$@" | sed 's/ $//')"
    else
        "$@"
    fi
}

# Write stdin to a file (mode $2) - through run's printing in a dry run.
write_file() {
    local dest=$1 mode=$2 content
    content=$(cat)
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ write %s (mode %s):\n' "$dest" "$mode"
        printf '%s\n' "$content" | sed 's/^/|   /'
    else
        install -d -m 0755 "$(dirname "$dest")"
        printf '%s\n' "$content" > "$dest.tmp.$$"
        chmod "$mode" "$dest.tmp.$$"
        mv -f "$dest.tmp.$$" "$dest"
    fi
}

# systemd is PID 1 on a booted Pi; not in a chroot or image build, where only enable works.
booted() { [ -d /run/systemd/system ]; }

# Booted with overlayroot's RAM overlay on / (a container's overlay root is not one: no such word).
overlay_active() {
    [ "$(findmnt -n -o FSTYPE / 2>/dev/null)" = overlay ] && grep -Eq '(^| )overlayroot=tmpfs' /proc/cmdline
}

preflight() {
    if [ ! -f "$SOURCE/pyproject.toml" ] || [ ! -d "$SOURCE/app" ]; then
        die "$SOURCE is not a Backstep checkout (no pyproject.toml/app)"
    fi
    [ -f "$SOURCE/deploy/config.example.toml" ] || die "$SOURCE/deploy/config.example.toml is missing"
    if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
        die "run as root: sudo $0 ${ORIG_ARGS[*]} (or --dry-run to see what it would do)"
    fi
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        . /etc/os-release
        if [ "${VERSION_CODENAME:-}" != bookworm ]; then
            warn "made for Raspberry Pi OS Bookworm; this is ${PRETTY_NAME:-unknown}"
        fi
    fi
    if overlay_active; then
        # Whatever is installed now would land in RAM and vanish at the next reboot.
        die "the root filesystem is the read-only overlay: turn it off first (sudo $0 --no-overlayroot), reboot, then run this again"
    fi
    if [ "$OVERLAY" = 1 ]; then
        # With the overlay root, everything written to the SD card's root is lost at reboot: the
        # session database must live on its own partition, mounted at every boot (deploy/README.md,
        # "SD card"), which overlayroot leaves alone with recurse=0.
        mountpoint -q "$STATE" || die "--overlayroot needs a data partition mounted at $STATE first (see deploy/README.md)"
        findmnt --fstab -n "$STATE" >/dev/null \
            || die "--overlayroot needs $STATE listed in /etc/fstab, so it is mounted at every boot (see deploy/README.md)"
        command -v raspi-config >/dev/null || die "--overlayroot needs raspi-config (Raspberry Pi OS)"
    fi
}

install_packages() {
    say "apt packages"
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
    local pkg
    for pkg in "${APT_OPTIONAL[@]}"; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then
            run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg"
        else
            say "skipping $pkg (not in this distribution's archive; pip builds or fetches lgpio)"
        fi
    done
}

create_user() {
    say "user $SERVICE_USER and device groups"
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        # gpio exists on Raspberry Pi OS only; a system group keeps the unit valid elsewhere.
        getent group "$group" >/dev/null || run groupadd --system "$group"
    done
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        run useradd --system --user-group --home-dir "$STATE" --no-create-home \
            --shell /usr/sbin/nologin --comment "Backstep kiosk" "$SERVICE_USER"
    fi
    run usermod --append --groups "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$SERVICE_USER"
}

install_app() {
    say "venv in $VENV with backstep[pi]"
    run install -d -m 0755 "$PREFIX" "$PREFIX/bin" "$PREFIX/deploy"
    if [ ! -x "$VENV/bin/python" ]; then
        run "$PYTHON" -m venv "$VENV"
    elif ! grep -qx "home = $(dirname "$PYTHON")" "$VENV/pyvenv.cfg" 2>/dev/null; then
        # A venv made from another interpreter: rebuild it on the system one.
        run "$PYTHON" -m venv --clear "$VENV"
    fi
    run "$VENV/bin/pip" install --disable-pip-version-check --upgrade pip
    install_wheel
    # Installs before the assets moved into the package kept a copy here; nothing reads it now.
    if [ -e "$PREFIX/assets" ]; then run rm -rf "$PREFIX/assets"; fi
    run install -m 0755 "$SOURCE/deploy/bin/backstep-usb-mount" "$PREFIX/bin/backstep-usb-mount"
    run install -m 0644 "$SOURCE/deploy/README.md" "$PREFIX/deploy/README.md"
    run install -m 0644 "$SOURCE/deploy/config.example.toml" "$PREFIX/deploy/config.example.toml"
    # `backstep` on the administrator's PATH, for doctor, export, treadmill probe.
    run ln -sfn "$VENV/bin/backstep" /usr/local/bin/backstep
}

install_config() {
    say "configuration in $ETC"
    run install -d -m 0755 "$ETC"
    if [ -e "$ETC/config.toml" ]; then
        say "keeping the existing $ETC/config.toml (the example is in $PREFIX/deploy/)"
    else
        # Readable by the kiosk's group only: it holds the staff PIN's hash.
        run install -m 0640 -o root -g "$SERVICE_USER" "$SOURCE/deploy/config.example.toml" "$ETC/config.toml"
    fi
    run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE"
    run install -d -m 0755 "$MEDIA"
}

install_units() {
    say "systemd unit, udev rules and the eject permission (polkit)"
    run install -m 0644 "$SOURCE/deploy/backstep.service" /etc/systemd/system/backstep.service
    # The clinic hub's sync (docs/hub.md): installed on every station, enabled by staff on a
    # station that has [hub] in its config (sudo systemctl enable --now backstep-sync).
    run install -m 0644 "$SOURCE/deploy/backstep-sync.service" /etc/systemd/system/backstep-sync.service
    run install -m 0644 "$SOURCE/deploy/udev/90-backstep-usb.rules" /etc/udev/rules.d/90-backstep-usb.rules
    run install -m 0644 "$SOURCE/deploy/udev/99-backstep-treadmill.rules" /etc/udev/rules.d/99-backstep-treadmill.rules
    # The kiosk may stop (unmount) the stick mount units below /media/backstep, nothing else.
    # polkitd reads its rules directory again by itself when a file changes.
    run install -d -m 0700 -o polkitd -g root /etc/polkit-1/rules.d
    run install -m 0644 "$SOURCE/deploy/polkit/50-backstep-usb.rules" /etc/polkit-1/rules.d/50-backstep-usb.rules
    if booted; then
        run systemctl daemon-reload
        run udevadm control --reload
        run udevadm trigger --subsystem-match=tty --action=change
    fi
    # Boot to a console, not a desktop: the kiosk owns the display through KMS.
    run systemctl set-default multi-user.target
    run systemctl enable backstep.service
}

# The Pi's kernel command line: /boot/firmware on Bookworm, /boot before.
cmdline_txt() {
    if [ -n "$CMDLINE_TXT" ]; then echo "$CMDLINE_TXT"
    elif [ -f /boot/firmware/cmdline.txt ]; then echo /boot/firmware/cmdline.txt
    else echo /boot/cmdline.txt
    fi
}

setup_display() {
    say "display: SDL KMSDRM on the full KMS driver"
    local config_txt=/boot/firmware/config.txt cmdline
    [ -f "$config_txt" ] || config_txt=/boot/config.txt
    cmdline=$(cmdline_txt)
    if [ -f "$config_txt" ]; then
        # Bookworm enables the full KMS driver by default; the kiosk needs it (not fkms, not legacy).
        if ! grep -Eq '^[[:space:]]*dtoverlay=vc4-kms-v3d' "$config_txt"; then
            warn "$config_txt has no dtoverlay=vc4-kms-v3d: the kiosk needs the KMS driver; add it under [all]"
        fi
    else
        say "no Raspberry Pi boot config found (not a Pi?): display set-up skipped"
    fi
    if [ -f "$cmdline" ] && ! grep -q 'vt.global_cursor_default=0' "$cmdline"; then
        # No blinking console cursor behind the kiosk while it starts. cmdline.txt is one line.
        run sed -i '1 s/$/ vt.global_cursor_default=0/' "$cmdline"
    fi
}

sd_card_friendly() {
    say "SD-card-friendly set-up"
    # The journal in RAM: no log writes to the card (logs of the current boot only; see README).
    write_file /etc/systemd/journald.conf.d/backstep.conf 0644 <<'EOF'
# Written by Backstep's install.sh --sd-card-friendly: keep the journal in RAM to spare the SD card.
# For logs that survive a reboot, use Storage=persistent with SystemMaxUse=64M instead.
[Journal]
Storage=volatile
RuntimeMaxUse=64M
EOF
    if booted; then
        run systemctl restart systemd-journald
    fi
    # noatime: reading a file no longer writes to the card.
    if awk '$2 == "/" && $4 !~ /noatime/ { found = 1 } END { exit !found }' /etc/fstab 2>/dev/null; then
        run sed -i -E '/^[^#[:space:]]+[[:space:]]+\/[[:space:]]/ s/^([^[:space:]]+[[:space:]]+\/[[:space:]]+[^[:space:]]+[[:space:]]+)([^[:space:]]+)/\1\2,noatime/' /etc/fstab
    fi
}

# Replace every overlayroot= word on the kernel command line (one line) by "$1"; none if "$1" is empty.
set_overlayroot() {
    local cmdline expr
    cmdline=$(cmdline_txt)
    [ -f "$cmdline" ] || die "$cmdline not found: is this a Raspberry Pi with its boot partition mounted?"
    expr='1 { s/(^|[[:space:]]+)overlayroot=[^[:space:]]*//g; s/^[[:space:]]+//'
    if [ -n "$1" ]; then expr="$expr; s/^/$1 /"; fi
    run sed -i -E "$expr }" "$cmdline"
}

overlay_root() {
    say "overlay root (read-only SD card; $STATE stays a writable partition)"
    # raspi-config installs overlayroot and writes overlayroot=tmpfs; ours then replaces that word.
    run raspi-config nonint enable_overlayfs
    set_overlayroot "$OVERLAYROOT_TOKEN"
    say "the overlay takes effect at the next reboot; for updates: sudo deploy/install.sh --no-overlayroot, reboot"
}

no_overlay_root() {
    say "overlay root off (takes effect at the next reboot)"
    if command -v raspi-config >/dev/null; then
        run raspi-config nonint disable_overlayfs
    fi
    # raspi-config removes only the word it wrote itself; ours has options.
    set_overlayroot ""
    say "reboot now (sudo reboot); then update, and turn it on again with: sudo deploy/install.sh --overlayroot"
}

# Build a wheel of $SOURCE outside the checkout (deploy/build-wheel.sh: nothing is written into the
# clone, no stale build/ is reused) and install it into $VENV. A plain, non-editable install: the
# kiosk must not depend on the checkout staying put. --force-reinstall replaces every file of the
# package even when the version number did not change, so a module deleted from the source is
# deleted from the venv; the second call then brings in any dependency the new version added.
install_wheel() {
    local wheel_dir wheel
    if [ "$DRY_RUN" = 1 ]; then
        wheel_dir=/tmp/backstep-wheel.XXXXXX
        run "$SOURCE/deploy/build-wheel.sh" --python "$VENV/bin/python" "$SOURCE" "$wheel_dir"
        wheel=$wheel_dir/backstep-VERSION-py3-none-any.whl
    else
        wheel_dir=$(mktemp -d "${TMPDIR:-/tmp}/backstep-wheel.XXXXXX")
        wheel=$("$SOURCE/deploy/build-wheel.sh" --python "$VENV/bin/python" "$SOURCE" "$wheel_dir")
    fi
    run "$VENV/bin/pip" install --disable-pip-version-check --force-reinstall --no-deps "$wheel"
    run "$VENV/bin/pip" install --disable-pip-version-check --upgrade "$wheel$EXTRAS"
    run rm -rf "$wheel_dir"
}

doctor() {
    if [ "$RUN_DOCTOR" = 0 ]; then return 0; fi
    say "backstep doctor"
    if [ "$DRY_RUN" = 1 ]; then
        run runuser -u "$SERVICE_USER" -- "$VENV/bin/backstep" doctor
        return 0
    fi
    # As the service user, so permissions are checked as the kiosk will meet them. Its findings are
    # advice at this point (no treadmill cable yet, say): they do not fail the install.
    # LG_WD: lgpio makes its notification pipes in its working directory, which need not be ours.
    runuser -u "$SERVICE_USER" -- env HOME="$STATE" LG_WD=/tmp "$VENV/bin/backstep" doctor \
        || warn "backstep doctor found problems (above); fix them, then: sudo systemctl restart backstep"
}

main() {
    if [ "$NO_OVERLAY" = 1 ]; then
        if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "run as root: sudo $0 --no-overlayroot"; fi
        no_overlay_root
        return 0
    fi
    preflight
    if [ "$DRY_RUN" = 1 ]; then
        say "dry run: nothing is changed; each action is printed with a leading +"
    fi
    install_packages
    create_user
    install_app
    install_config
    install_units
    setup_display
    # if, not &&: errexit is off inside a function called as part of an && list.
    if [ "$SD_CARD" = 1 ]; then sd_card_friendly; fi
    if [ "$OVERLAY" = 1 ]; then overlay_root; fi
    doctor
    say "done. Reboot to start the kiosk: sudo reboot   (logs: journalctl -u backstep -f)"
}

# Run when executed; when sourced (the tests do: `source deploy/install.sh; install_wheel`), only define.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main
fi
