#!/bin/sh
# Make the PostgreSQL server binaries available for tests/test_ledger_postgres.py.
#
# Installs Debian's postgresql package only when no initdb is found under
# /usr/lib/postgresql/*/bin, so it is idempotent and a no-op on a prepared machine. The
# Python driver comes with the carecast[postgres] extra (psycopg); pass --with-driver to
# also pip-install it into the current interpreter.
set -eu

found_initdb() {
    for candidate in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

if initdb=$(found_initdb); then
    echo "install-postgres: found $initdb"
else
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    echo "install-postgres: installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    initdb=$(found_initdb) || {
        echo "install-postgres: postgresql installed but no initdb under /usr/lib/postgresql" >&2
        exit 1
    }
    echo "install-postgres: installed $initdb"
fi

# initdb refuses root; tests/pg.py then runs the cluster as this system user.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "install-postgres: running as root but there is no 'postgres' user" >&2
    exit 1
fi

if [ "${1:-}" = "--with-driver" ]; then
    python=${PYTHON:-python}
    if ! "$python" -c "import psycopg" 2>/dev/null; then
        "$python" -m pip install -q "psycopg[binary]>=3.1"
    fi
fi
