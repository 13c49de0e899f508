#!/usr/bin/env bash
# Remove the Backstep kiosk installed by deploy/install.sh.
#
#   sudo deploy/uninstall.sh            remove the program, unit and rules; KEEP the session
#                                       database (/var/lib/backstep) and the config (/etc/backstep)
#   sudo deploy/uninstall.sh --purge    also delete the database, the config and the backstep user
#   deploy/uninstall.sh --dry-run       print every action, change nothing
#
# apt packages are left installed (other software may use them), and so are the settings
# --sd-card-friendly made (journald drop-in, noatime): see deploy/README.md to undo those.
set -euo pipefail

PREFIX=/opt/backstep
ETC=/etc/backstep
STATE=/var/lib/backstep
MEDIA=/media/backstep
SERVICE_USER=backstep

DRY_RUN=0
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '==> %s\n' "$*"; }
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$(printf '%q ' "$@" | sed 's/ $//')"
    else
        "$@"
    fi
}
booted() { [ -d /run/systemd/system ]; }

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "uninstall.sh: run as root (sudo), or with --dry-run" >&2
    exit 1
fi

say "stopping and disabling the kiosk"
if booted; then
    # The kiosk stops the belt on SIGTERM before it exits.
    run systemctl disable --now backstep.service || true
    run systemctl disable --now backstep-sync.service || true
    # Unmount any export stick still mounted for the kiosk.
    if [ -d "$MEDIA" ]; then
        for mount in "$MEDIA"/*; do
            if mountpoint -q "$mount" 2>/dev/null; then
                run systemd-umount "$mount" || true
            fi
        done
    fi
else
    run systemctl disable backstep.service || true
    run systemctl disable backstep-sync.service || true
fi

say "removing the unit, the udev and polkit rules and the program"
run rm -f /etc/systemd/system/backstep.service /etc/systemd/system/backstep-sync.service \
    /etc/udev/rules.d/90-backstep-usb.rules \
    /etc/udev/rules.d/99-backstep-treadmill.rules \
    /etc/polkit-1/rules.d/50-backstep-usb.rules \
    /usr/local/bin/backstep
run rm -rf "$PREFIX"
if booted; then
    run systemctl daemon-reload
    run udevadm control --reload
fi
# Empty mount points left by old sticks; never a mounted stick (rmdir refuses non-empty folders).
if [ -d "$MEDIA" ]; then
    run find "$MEDIA" -mindepth 1 -maxdepth 1 -type d -empty -delete
    run rmdir --ignore-fail-on-non-empty "$MEDIA"
fi

if [ "$PURGE" = 1 ]; then
    say "purging the session database, the config and the backstep user"
    run rm -rf "$STATE" "$ETC"
    if getent passwd "$SERVICE_USER" >/dev/null; then
        run userdel "$SERVICE_USER"
    fi
    if getent group "$SERVICE_USER" >/dev/null; then
        run groupdel "$SERVICE_USER"
    fi
else
    say "kept: sessions in $STATE, config in $ETC, user $SERVICE_USER (--purge removes them)"
fi
say "done"
