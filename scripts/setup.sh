#!/usr/bin/env bash
# One idempotent set-up path for a Debian 12 (bookworm) machine:
# system packages (with bookworm-backports for libbpf >= 1.2, bpftool and
# linux-source-6.12), then the project into .venv with pinned Python deps.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SCXPY_VENV:-$REPO/.venv}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '[setup] %s\n' "$*" >&2; }

BACKPORTS=/etc/apt/sources.list.d/scxpy-bookworm-backports.sources
if [ ! -f "$BACKPORTS" ]; then
    say "adding bookworm-backports to apt sources ($BACKPORTS)"
    $SUDO tee "$BACKPORTS" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    NEED_UPDATE=1
fi

# Packages from bookworm proper.
PKGS=(
    clang-16 llvm-16 lld-16
    qemu-system-x86 udev kmod busybox-static
    build-essential flex bison bc libelf-dev libssl-dev dwarves cpio xz-utils zstd libzstd-dev
    rt-tests stress-ng python3-venv git linux-source-6.12
)
# Packages that must come from backports (bookworm's libbpf is 1.1).
BPO_PKGS=(libbpf1 libbpf-dev bpftool)

missing=()
for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libbpf1 from bookworm (1.1) is "installed" but too old.
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libbpf1 2>/dev/null || echo 0)" lt "1:1.2"; then
    missing+=(libbpf1)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing: ${missing[*]}"
    if [ "${NEED_UPDATE:-0}" = 1 ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -i backports || true)" ]; then
        $SUDO apt-get update -q
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q --no-install-recommends "${PKGS[@]}"
    $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
else
    say "system packages already installed"
fi

# virtme-ng needs udevd running: without it the guest's exit status is lost.
if ! pgrep -x systemd-udevd >/dev/null 2>&1; then
    say "starting udevd"
    $SUDO /lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 || $SUDO udevd --daemon >/dev/null 2>&1 || true
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
say "installing scxpy into $VENV"
"$VENV/bin/pip" install -q -e "$REPO[test]"
say "done: $("$VENV/bin/scxpy" --version 2>/dev/null || echo 'scxpy installed')"
