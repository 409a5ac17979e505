#!/bin/sh
# System packages the tests use: a PostgreSQL server (started by the tests on loopback).
# Installs them with apt-get when run as root; otherwise says what to install.
set -e
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian package postgresql) for the store tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
else
    echo "note: PostgreSQL is not installed; its store tests will be skipped." >&2
    echo "      install it with: sudo apt-get install postgresql" >&2
fi
