#!/usr/bin/env bash
# Build Backstep's wheel from a checkout, writing nothing into the checkout.
#
#   deploy/build-wheel.sh [--python PYTHON] SOURCE OUTDIR    prints the wheel's path
#
# setuptools builds inside the source folder (build/, backstep.egg-info/) and reuses build/ the next
# time, so a module deleted from the source would still be in the next wheel; run by the installer as
# root it would also leave root-owned files in the user's clone. So the source tree is copied, without
# .git, virtual environments and earlier build output, to a fresh temporary folder, the wheel is built
# there with pip, and only the wheel is kept. The wheel carries assets/ as app/assets (setup.py).
set -euo pipefail

PYTHON=python3
if [ "${1:-}" = "--python" ]; then
    [ $# -ge 2 ] || { echo "build-wheel.sh: --python needs an interpreter" >&2; exit 2; }
    PYTHON=$2
    shift 2
fi
[ $# -eq 2 ] || { echo "usage: build-wheel.sh [--python PYTHON] SOURCE OUTDIR" >&2; exit 2; }
SOURCE=$1
OUT=$2
if [ ! -f "$SOURCE/pyproject.toml" ] || [ ! -d "$SOURCE/app" ]; then
    echo "build-wheel.sh: $SOURCE is not a Backstep checkout (no pyproject.toml/app)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/backstep-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$OUT"
# Everything a build may read; nothing a build or a developer leaves behind.
tar -C "$SOURCE" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis \
    --exclude=./screenshots --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm' . \
    | tar -C "$work/src" -xf -
"$PYTHON" -m pip wheel --disable-pip-version-check --no-deps --quiet --wheel-dir "$work/wheel" "$work/src" >&2
wheels=("$work"/wheel/backstep-*.whl)
[ -f "${wheels[0]}" ] || { echo "build-wheel.sh: pip built no backstep wheel" >&2; exit 1; }
cp "${wheels[0]}" "$OUT/"
printf '%s\n' "$OUT/$(basename "${wheels[0]}")"
