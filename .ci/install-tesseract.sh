#!/bin/sh
# Tesseract OCR for the image check (text in images scanned for PHI), from Debian's packages.
# A no-op when tesseract is already on the PATH.
set -eu

if command -v tesseract >/dev/null 2>&1; then
    echo "install-tesseract: found $(command -v tesseract)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "install-tesseract: installing Debian's tesseract-ocr package"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null
command -v tesseract
