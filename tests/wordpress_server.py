"""A real WordPress on 127.0.0.1 for tests, from Debian's packages.

``WordPressServer.ensure()`` returns a running site with an administrator and an application
password, starting what is missing:

1. Debian's ``wordpress``, ``php-cli``, ``php-mysql`` and ``mariadb-server`` packages,
   installed by ``.ci/install-wordpress.sh`` when missing (needs root; else
   ``WordPressUnavailable``).
2. A private MariaDB (its own data directory under ``STATE_DIR``, 127.0.0.1, a free port),
   with a database and a user for WordPress. The system's MariaDB service is not touched.
3. ``/etc/wordpress/config-127.0.0.1.php`` (Debian's ``wp-config.php`` reads
   ``config-<host>.php``), with ``WP_ENVIRONMENT_TYPE = local`` so application passwords
   work over plain HTTP.
4. PHP's built-in server on ``127.0.0.1:PORT`` with a router (``/wp-json/`` and pretty
   permalinks go to ``index.php``; uploads are served from ``/var/lib/wordpress``).
5. The install (``POST wp-admin/install.php?step=2``), ``/%postname%/`` permalinks and an
   application password (through ``php`` and ``wp-load.php``).

Everything lives in ``STATE_DIR`` (default ``/var/tmp/carecast-wordpress-PORT``), so a later
run reuses the installed site and only restarts the processes. Test sessions running at once
share the site; the last one out stops the servers. ``python tests/wordpress_server.py
start`` starts it ahead of the tests (the next test session reuses it, then stops it);
``stop`` stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

__all__ = ["PORT", "WordPressServer", "WordPressUnavailable"]

PORT = int(os.environ.get("CARECAST_TEST_WORDPRESS_PORT", "8089"))
HOST = "127.0.0.1"
STATE_DIR = Path(os.environ.get("CARECAST_TEST_WORDPRESS_DIR",
                                f"/var/tmp/carecast-wordpress-{PORT}"))
WORDPRESS = Path("/usr/share/wordpress")
CONTENT = Path("/var/lib/wordpress/wp-content")
CONFIG = Path(f"/etc/wordpress/config-{HOST}.php")
INSTALL_SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "install-wordpress.sh"
ADMIN = "carecast"
DATABASE = "carecast_wp"
START_TIMEOUT = 60

ROUTER = r"""<?php
// PHP's built-in server in front of Debian's WordPress: files as they are, uploads from
// WP_CONTENT_DIR, everything else (REST API, permalinks) through index.php.
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
if (strpos($path, '/wp-content/') === 0 && strpos($path, '..') === false) {
    $file = '/var/lib/wordpress' . $path;
    if (is_file($file) && !preg_match('/\.php$/', $file)) {
        header('Content-Type: ' . (mime_content_type($file) ?: 'application/octet-stream'));
        readfile($file);
        return true;
    }
}
if ($path !== '/' && is_file($_SERVER['DOCUMENT_ROOT'] . $path)) {
    return false;
}
if (is_dir($_SERVER['DOCUMENT_ROOT'] . $path)
        && is_file($_SERVER['DOCUMENT_ROOT'] . rtrim($path, '/') . '/index.php')) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
"""

APP_PASSWORD = r"""<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1';
require '/usr/share/wordpress/wp-load.php';
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
flush_rewrite_rules(false);
$user = get_user_by('login', $argv[1]);
$made = WP_Application_Passwords::create_new_application_password(
    $user->ID, array('name' => 'carecast tests ' . gmdate('c')));
if (is_wp_error($made)) { fwrite(STDERR, $made->get_error_message()); exit(1); }
echo $made[0];
"""


class WordPressUnavailable(RuntimeError):
    """WordPress cannot be installed or started here."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class WordPressServer:
    """A WordPress site on 127.0.0.1 and the credentials of its administrator."""

    port: int = PORT
    state_dir: Path = STATE_DIR
    user: str = ADMIN
    app_password: str = ""
    setup_seconds: float = 0.0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    lock: Any = field(default=None, repr=False)  # the open lock file while the site is used

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def _state(self) -> Path:
        return self.state_dir / "state.json"

    @classmethod
    def ensure(cls) -> WordPressServer:
        """The running site, installing and starting what is missing.

        Test sessions running at once share one site: the first sets it up (under an
        exclusive lock), each holds a shared lock while it uses it, and ``stop`` stops the
        servers only when no other session holds one.
        """
        began = time.monotonic()
        server = cls()
        server.state_dir.mkdir(parents=True, exist_ok=True)
        server.lock = (server.state_dir / "lock").open("a")
        fcntl.flock(server.lock, fcntl.LOCK_EX)
        try:
            state = server._load()
            if not (state.get("app_password") and _answers(f"{server.url}/wp-json/")):
                server._install_packages()
                state = server._start(state)
        except BaseException:
            server.stop()
            raise
        fcntl.flock(server.lock, fcntl.LOCK_SH)
        server.app_password = state["app_password"]
        server.setup_seconds = time.monotonic() - began
        return server

    # -- steps -----------------------------------------------------------------------------

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._state.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, state: dict[str, str]) -> None:
        self._state.write_text(json.dumps(state))
        self._state.chmod(0o600)

    def _install_packages(self) -> None:
        have = (WORDPRESS / "wp-settings.php").is_file() and shutil.which("php") \
            and Path("/usr/sbin/mariadbd").exists()
        if have:
            return
        if os.geteuid() != 0:
            raise WordPressUnavailable(
                "Debian's wordpress, php-cli, php-mysql and mariadb-server are not installed "
                "and installing them needs root: run sudo sh .ci/install-wordpress.sh")
        done = subprocess.run(["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True,
                              timeout=900, check=False)
        if done.returncode != 0:
            raise WordPressUnavailable(f"install-wordpress.sh failed: {done.stderr[-2000:]}")

    def _start(self, state: dict[str, str]) -> dict[str, str]:
        if os.geteuid() != 0 and not os.access(CONFIG.parent, os.W_OK):
            raise WordPressUnavailable(f"cannot write {CONFIG} (run as root)")
        state.setdefault("db_password", secrets.token_urlsafe(18))
        state.setdefault("admin_password", secrets.token_urlsafe(18))
        state["db_port"] = str(self._start_mariadb(state["db_password"]))
        self._write_config(state)
        self._start_php()
        if not state.get("installed"):
            self._install_site(state["admin_password"])
            state["installed"] = "yes"
        state["app_password"] = self._php(APP_PASSWORD, self.user)
        self._save(state)
        return state

    def _start_mariadb(self, password: str) -> int:
        data = self.state_dir / "mysql"
        sock = self.state_dir / "mysqld.sock"
        as_user = "mysql" if _has_user("mysql") else "root"
        if not (data / "mysql").is_dir():
            data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.state_dir, as_user)
                shutil.chown(data, as_user)
            self._run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                       f"--user={as_user}", "--auth-root-authentication-method=socket",
                       "--skip-test-db"], timeout=180)
        _stop_group(self.state_dir / "mysqld.pid")  # a server left by a crashed run
        port = _free_port()
        with (self.state_dir / "mysqld.log").open("ab") as log:
            process = subprocess.Popen(
                ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}",
                 f"--socket={sock}", f"--port={port}", f"--bind-address={HOST}",
                 f"--user={as_user}", f"--pid-file={self.state_dir / 'mysqld.pid'}",
                 "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                 "--performance-schema=OFF"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        sql = (f"CREATE DATABASE IF NOT EXISTS {DATABASE}; "
               f"CREATE USER IF NOT EXISTS 'carecast'@'{HOST}' IDENTIFIED BY '{password}'; "
               f"ALTER USER 'carecast'@'{HOST}' IDENTIFIED BY '{password}'; "
               f"GRANT ALL ON {DATABASE}.* TO 'carecast'@'{HOST}';")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            done = subprocess.run(["mariadb", "--no-defaults", f"--socket={sock}", "-uroot",
                                   "-e", sql], capture_output=True, text=True, check=False)
            if done.returncode == 0:
                return port
            if process.poll() is not None or time.monotonic() > deadline:
                raise WordPressUnavailable(
                    f"MariaDB did not start: see {self.state_dir / 'mysqld.log'}")
            time.sleep(0.3)

    def _write_config(self, state: dict[str, str]) -> None:
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        CONFIG.write_text(f"""<?php
// Written by carecast's tests (tests/wordpress_server.py) for a WordPress on {self.url}.
define('DB_NAME', '{DATABASE}');
define('DB_USER', 'carecast');
define('DB_PASSWORD', '{state["db_password"]}');
define('DB_HOST', '{HOST}:{state["db_port"]}');
define('WP_HOME', '{self.url}');
define('WP_SITEURL', '{self.url}');
define('WP_CONTENT_DIR', '{CONTENT}');
define('WP_ENVIRONMENT_TYPE', 'local');
define('FS_METHOD', 'direct');
define('DISABLE_WP_CRON', true);
""")
        CONFIG.chmod(0o640)
        (CONTENT / "uploads").mkdir(parents=True, exist_ok=True)

    def _start_php(self) -> None:
        _stop_group(self.state_dir / "php.pid")
        router = self.state_dir / "router.php"
        router.write_text(ROUTER)
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
        with (self.state_dir / "php.log").open("ab") as log:
            process = subprocess.Popen(
                ["php", "-d", "upload_max_filesize=64M", "-d", "post_max_size=64M",
                 "-d", "memory_limit=256M", "-S", f"{HOST}:{self.port}", "-t",
                 str(WORDPRESS), str(router)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.processes.append(process)
        (self.state_dir / "php.pid").write_text(str(process.pid))
        deadline = time.monotonic() + START_TIMEOUT
        while not _port_open(self.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise WordPressUnavailable(f"php -S did not start: see {self.state_dir}")
            time.sleep(0.2)

    def _install_site(self, password: str) -> None:
        answer = requests.post(f"{self.url}/wp-admin/install.php?step=2", data={
            "weblog_title": "Riverside General News", "user_name": self.user,
            "admin_password": password, "admin_password2": password, "pw_weak": "1",
            "admin_email": "webmaster@riverside-general.example", "blog_public": "0",
            "language": ""}, timeout=120)
        if answer.status_code != 200 or "wp-login.php" not in answer.text:
            raise WordPressUnavailable(f"the WordPress install failed (HTTP "
                                       f"{answer.status_code}): see {self.state_dir}/php.log")
        self._php("<?php $_SERVER['HTTP_HOST']='127.0.0.1'; require "
                  "'/usr/share/wordpress/wp-load.php'; update_option('blogdescription', "
                  "'Care close to home'); echo 'ok';")

    def _php(self, code: str, *args: str) -> str:
        script = self.state_dir / "cli.php"
        script.write_text(code)
        done = subprocess.run(["php", str(script), *args], capture_output=True, text=True,
                              timeout=120, check=False)
        script.unlink()
        if done.returncode != 0 or not done.stdout.strip():
            raise WordPressUnavailable(f"php failed: {(done.stderr or done.stdout)[-2000:]}")
        return done.stdout.strip().splitlines()[-1]

    def _run(self, command: list[str], timeout: float) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if done.returncode != 0:
            raise WordPressUnavailable(f"{command[0]} failed: {done.stderr[-2000:]}")

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the PHP server and MariaDB unless another session still uses them (the
        data stays for the next run)."""
        if self.lock is not None:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another session uses the site: it stops it
                _STILL_RUNNING.extend(self.processes)
                self.processes.clear()
                self.lock.close()
                self.lock = None
                return
        for pidfile in ("php.pid", "mysqld.pid"):
            _stop_group(self.state_dir / pidfile)
        for process in self.processes:
            process.wait(timeout=30)
        self.processes.clear()
        if self.lock is not None:
            self.lock.close()
            self.lock = None


#: Servers this process started that another test session still uses.
_STILL_RUNNING: list[subprocess.Popen[bytes]] = []


def _stop_group(pidfile: Path) -> None:
    """Stop the process group whose leader ``pidfile`` names (a server of this module).

    Each server runs in its own session (``start_new_session``): the whole group is
    signalled, so PHP's worker processes stop with their parent.
    """
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(200):
            if _gone(pid):
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts: nobody may be reaping it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "start":
        site = WordPressServer.ensure()
        print(f"wordpress-server: {site.url} ready in {site.setup_seconds:.1f}s")
    elif command == "stop":
        WordPressServer().stop()
    else:
        sys.exit("usage: wordpress_server.py start|stop")
