#!/bin/sh
# System packages the tests use: a PostgreSQL server (started by the tests on loopback)
# and Debian's Chromium with a Chinese font (driven headless by the browser tests
# through Playwright); Pango, which WeasyPrint prints the PDF reports with, and poppler's
# tools, which the tests read those PDFs back with.
# Installs what is missing with apt-get when run as root; otherwise says what to install.
set -e
missing=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
# a Chinese font, or Chromium draws the UI's Chinese as boxes in the browser tests' screenshots
fc-list :lang=zh 2>/dev/null | grep -q . || missing="$missing fonts-noto-cjk"
/sbin/ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0.so.0 || missing="$missing libpango-1.0-0 libpangoft2-1.0-0"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for the tests:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
else
    echo "note: missing Debian packages:$missing; their tests will be skipped." >&2
    echo "      install them with: sudo apt-get install$missing" >&2
fi
