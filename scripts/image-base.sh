#!/usr/bin/env bash
# The recipe of the local base image: a stand-in for python:3.11-slim-bookworm made from Debian
# packages only, for machines that reach Debian's package archive but no container registry.
# scripts/image.py runs it and tags the result with a hash of this file and the mirrors, so
# editing this recipe is what makes the next run build a new base.
#
# Usage: scripts/image-base.sh ROOTFS TAG MIRROR SECURITY_MIRROR   (as root; ROOTFS must not exist)
#
# What the Dockerfile needs from its base: Debian bookworm (the build stage installs gcc with
# apt-get), and `python` (3.11) on PATH with pip and venv, as in the official image.
set -euo pipefail
rootfs=$1 tag=$2 mirror=$3 security=$4

debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
    bookworm "$rootfs" "$mirror"

# The same suites as the official image: point releases and security updates too.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
chroot "$rootfs" apt-get update -qq
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq >/dev/null

# Debian's own interpreter refuses `pip install` outside a virtual environment (PEP 668), and
# the official image has python and pip in /usr/local/bin: a venv of Debian's python3 at
# /usr/local gives both, first on PATH.
chroot "$rootfs" python3 -m venv /usr/local

# Nothing of the machine that built it: debootstrap copied its resolver and host name in.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/apt/* "$rootfs"/var/cache/debconf/*-old
rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"

tar --numeric-owner -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change 'LABEL org.citycard.local-base=bookworm' \
    - "$tag" >/dev/null
