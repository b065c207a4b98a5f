"""A throwaway PostgreSQL server for the test suite and the concurrency script (issue #5).

Started on a free loopback port in a temporary directory and removed afterwards. PostgreSQL refuses to run as root,
so as root initdb and pg_ctl run as the `postgres` user through `runuser` (ecosystem-checks §3). Durability settings
are off: a test server that loses its data on a power cut is fine, and it makes CREATE DATABASE fast.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

USER = "unionflow"
INITDB = ("-U", USER, "-A", "scram-sha-256", "--no-sync", "--locale=C.UTF-8")


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (./dev.sh test does this)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """Yield the server's base URL (`postgresql+psycopg://unionflow:PASSWORD@127.0.0.1:PORT`); stop and delete it.

    `durable`: keep PostgreSQL's default fsync and synchronous commit, as a benchmark of production needs.
    """
    bin_dir = _bin_dir()
    workdir = Path(tempfile.mkdtemp(prefix="unionflow-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data, port, log = workdir / "data", _free_port(), workdir / "log"
    # Loopback is open to every local account: a random password, not `trust`, keeps them out of a superuser.
    password = secrets.token_urlsafe(24)
    password_file = workdir / "password"
    password_file.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres", "postgres")
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        subprocess.run(
            _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "--pwfile", str(password_file), *INITDB]),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(workdir, ignore_errors=True)


def _admin(base_url: str) -> psycopg.Connection:
    conninfo = base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    return psycopg.connect(conninfo, autocommit=True)


def create_database(base_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` (a copy of `template` if given) and return its URL."""
    with _admin(base_url) as connection:
        # FILE_COPY (PostgreSQL 15 and later): the suite copies its small seeded template for every web test;
        # copying the files (and the checkpoint that takes, cheap with fsync off) beat WAL_LOG's page-by-page copy,
        # 85 → 63 ms create and drop.
        strategy = " STRATEGY = FILE_COPY" if connection.info.server_version >= 150000 else ""
        clause = f" TEMPLATE {template}{strategy}" if template else ""
        connection.execute(f"CREATE DATABASE {name}{clause}")
    return f"{base_url}/{name}"


def drop_database(base_url: str, name: str) -> None:
    with _admin(base_url) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
