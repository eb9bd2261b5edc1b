#!/bin/sh
# Make WordPress, PHP and MariaDB available for tests/channels/test_wordpress.py.
#
# Installs Debian's wordpress, php-cli, php-mysql and mariadb-server packages when they are
# missing (idempotent: a no-op on a prepared machine). Services are not enabled: with
# --start, it then starts a private MariaDB and WordPress on 127.0.0.1 through
# tests/wordpress_server.py (port CARECAST_TEST_WORDPRESS_PORT, default 8089), which the
# tests reuse; without it, the tests start them themselves.
set -eu

missing=
[ -f /usr/share/wordpress/wp-settings.php ] || missing="$missing wordpress"
command -v php >/dev/null 2>&1 || missing="$missing php-cli"
php -m 2>/dev/null | grep -qi '^mysqli$' || missing="$missing php-mysql"
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing="$missing mariadb-server"

if [ -z "$missing" ]; then
    echo "install-wordpress: wordpress, php and mariadb found"
else
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    echo "install-wordpress: installing Debian's$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Packages must not start services at install time (a container has no init system);
    # the tests start their own server processes.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        trap '$SUDO rm -f "$policy"' EXIT
    fi
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends \
        wordpress php-cli php-mysql mariadb-server >/dev/null
    echo "install-wordpress: installed"
fi

if [ "${1:-}" = "--start" ]; then
    cd "$(dirname "$0")/.."
    "${PYTHON:-python3}" tests/wordpress_server.py start
fi
