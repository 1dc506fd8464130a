"""A throw-away PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary directory.

The server listens on a free loopback port with trust authentication, runs as an unprivileged user
when the tests run as root (PostgreSQL refuses to run as root), and is stopped and deleted at the end.
Without PostgreSQL the tests that need it skip, saying how to install it, except under CI (``CI``
set), where they must run and fail instead.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL_HINT = (
    "PostgreSQL is not installed: `apt-get install postgresql` (Debian/Ubuntu; its binaries are in "
    "/usr/lib/postgresql/<version>/bin), `brew install postgresql` (macOS), or put initdb and pg_ctl on PATH"
)


def find_postgres_binaries() -> Path | None:
    """
    :return: The folder with ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian/Ubuntu install.
    """
    on_path = shutil.which("pg_ctl")
    candidates = [on_path] if on_path else sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    for pg_ctl in candidates:
        folder = Path(pg_ctl).parent
        if (folder / "initdb").exists():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """
    Start a server, yield its superuser URL prefix ``postgresql+psycopg://postgres@127.0.0.1:<port>``, stop it.
    """
    binaries = find_postgres_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests. {INSTALL_HINT}.")
        pytest.skip(f"{INSTALL_HINT}.")
    root = Path(tempfile.mkdtemp(prefix="softac-postgres-"))
    # As root, the server runs as "nobody", which must own the folder (PostgreSQL refuses to run as root).
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    as_user = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    data, port = root / "data", free_port()

    def run(*command: str) -> None:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=root, **as_user)  # type: ignore[call-overload]
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"

    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """
    :param server: The URL prefix :func:`postgres_server` yields.
    :param name: A new database's name.
    :return: Its SQLAlchemy URL.
    """
    import psycopg

    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"
