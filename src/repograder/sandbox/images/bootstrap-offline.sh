#!/usr/bin/env bash
# Build the Debian 12 root filesystem image for the offline (air-gapped) base image.
#
# No container registry is needed: debootstrap fetches .deb packages from the Debian mirror the
# host's apt already uses (or $REPOGRADER_DEBIAN_MIRROR), and `docker import` turns the folder
# into an image. Debian 12's python3 is 3.11. Run as root (debootstrap needs it).
#
# usage: bootstrap-offline.sh [ROOTFS_TAG]   (default: repograder-rootfs:bookworm)
set -euo pipefail

tag="${1:-repograder-rootfs:bookworm}"
suite="${REPOGRADER_DEBIAN_SUITE:-bookworm}"
packages="python3,python3-venv,python3-pip,ca-certificates,bash,coreutils,procps"

find_mirror() {
    # deb822 sources first (Debian 12 default), then the one-line format.
    local uri
    uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; break}}' \
            /etc/apt/sources.list | grep -E '/debian/?$' | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

mirror="${REPOGRADER_DEBIAN_MIRROR:-$(find_mirror)}"
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }
command -v docker >/dev/null || { echo "the docker CLI is not installed" >&2; exit 2; }

workdir=$(mktemp -d /var/tmp/repograder-rootfs.XXXXXX)
trap 'rm -rf "$workdir"' EXIT

echo "[bootstrap] debootstrap $suite from $mirror into $workdir (takes about a minute)"
debootstrap --variant=minbase --include="$packages" "$suite" "$workdir/root" "$mirror"

echo "[bootstrap] trimming apt lists and caches"
rm -rf "$workdir/root/var/lib/apt/lists/"* "$workdir/root/var/cache/apt/archives/"*.deb

echo "[bootstrap] importing the root filesystem as $tag"
tar -C "$workdir/root" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$tag"
echo "[bootstrap] done: $tag"
