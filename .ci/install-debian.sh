#!/bin/sh
# Install Debian packages for the tests unless their command is already on the PATH:
#   sh .ci/install-debian.sh COMMAND PACKAGE...
# e.g. tesseract (text in images) or chromium (the brand report, looked at headless).
set -eu

command_name=$1
shift
if command -v "$command_name" >/dev/null 2>&1; then
    echo "install-debian: found $(command -v "$command_name")"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "install-debian: installing $*"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
command -v "$command_name"
