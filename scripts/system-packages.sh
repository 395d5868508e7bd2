#!/usr/bin/env bash
# The system packages the test suite needs, in one place for `make test` and `.ci/run`.
#
# Checks each tool the suite calls. When one is missing and this runs as root on Debian, installs
# the Debian packages that bring them; otherwise stops at once, naming the one command to run.
# Nothing in the suite skips for want of a package: it fails, so this script is what makes a
# fresh machine able to run `make test`.
#
# Usage: scripts/system-packages.sh          check, install what is missing (root on Debian)
#        scripts/system-packages.sh --list   print the Debian package names, one a line
set -euo pipefail

# tool on PATH (or a file, or perl:Module) -> Debian package that provides it, and why the suite
# needs it.
REQUIREMENTS=(
    "gcc gcc"                          # builds cardformat's base45 accelerator
    "chromium chromium"                # end-to-end tests (Playwright drives Debian's Chromium)
    "nginx nginx"                      # the reference deployment's TLS reverse proxy
    "certutil libnss3-tools"           # makes Chromium trust the test stack's certificate
    "podman podman"                    # builds and boots the container image
    "debootstrap debootstrap"          # builds the image's base from Debian packages
    "softhsm2-util softhsm2"           # the PKCS#11 master-key provider's tests
    "pg_dump postgresql-client"        # the erasure scan of a PostgreSQL dump
    "redis-cli redis-tools"            # CI's Redis liveness check
    "node nodejs"                      # the agent page's JavaScript tests (node 20 or later)
    "ippeveprinter cups-ipp-utils"     # a real IPP Everywhere printer for the card-printer tests
    "dbus-daemon dbus-daemon"          # a private bus for ippeveprinter (it stops without one)
    "npm npm"                          # installs the test OpenID provider (tests/oidc, npm ci)
    # LemonLDAP::NG's portal as an OpenID provider (tests/oidc/lemonldap.py). The modules it
    # loads at start for its captcha and its OpenID Connect issuer are only Recommends.
    "/usr/sbin/llng-fastcgi-server lemonldap-ng-fastcgi-server"
    "perl:Lemonldap::NG::Portal liblemonldap-ng-portal-perl"
    "perl:GD::SecurityImage libgd-securityimage-perl"
    "perl:Image::Magick libimage-magick-perl"
    "perl:String::Random libstring-random-perl"
    "perl:IO::String libio-string-perl"
)
NODE_MAJOR_MIN=20

packages() {
    local line
    for line in "${REQUIREMENTS[@]}"; do
        echo "${line#* }"
    done
}

if [ "${1:-}" = "--list" ]; then
    packages
    exit 0
fi

present() {
    case "$1" in
        perl:*) perl -M"${1#perl:}" -e 1 >/dev/null 2>&1 ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
for line in "${REQUIREMENTS[@]}"; do
    tool=${line%% *}
    package=${line#* }
    present "$tool" || missing+=("$package")
done
node_too_old() {
    command -v node >/dev/null 2>&1 || return 1
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$major" -lt "$NODE_MAJOR_MIN" ]
}

if [ ${#missing[@]} -eq 0 ] && ! node_too_old; then
    exit 0
fi

install_command="apt-get update && apt-get install -y $(packages | tr '\n' ' ')"
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "The test suite needs these system packages: ${missing[*]}" >&2
        echo "Run, as root on Debian:  sudo sh -c '$install_command'" >&2
        exit 1
    fi
    echo "--- installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if node_too_old; then
    echo "node $(node --version) is too old: the agent page's tests need node ${NODE_MAJOR_MIN} or later" >&2
    exit 1
fi
