"""Start a throwaway PostgreSQL server from the local binaries (no Docker, no network).

As root, `initdb` and `pg_ctl` refuse to run, so the server runs as the `postgres` user in a
directory that user owns (see ../shared/DESIGN.md). fsync is off: this data is disposable.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "PostgreSQL server binaries not found (pg_ctl); install Debian's `postgresql` package "
        "(.ci/run does this on a fresh machine)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bin_dir: Path
    base_dir: Path
    port: int
    as_user: str | None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, name: str, template: str | None = None) -> None:
        with self._admin() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')  # type: ignore[arg-type]

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    def refuse_connections(self, name: str, *, refuse: bool = True) -> None:
        """A database outage for one database: new connections are refused and open ones are ended."""
        with self._admin() as conn:
            allow = "false" if refuse else "true"
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allow}')  # type: ignore[arg-type]
            if refuse:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
                )

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_postgres(_hint_dir: Path | None = None) -> PostgresServer:
    """initdb + pg_ctl start on a free loopback port; returns once the server accepts connections."""
    bin_dir = _bin_dir()
    as_user = "postgres" if os.geteuid() == 0 else None
    # pytest's tmp dirs are private to root (0700); the server user needs its own directory.
    base_dir = Path(tempfile.mkdtemp(prefix="luna-pg-"))
    if as_user:
        shutil.chown(base_dir, user=as_user, group=as_user)
    server = PostgresServer(bin_dir=bin_dir, base_dir=base_dir, port=_free_port(), as_user=as_user)
    init = server._run(
        str(bin_dir / "initdb"),
        "-D",
        str(server.data_dir),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    options = (
        f"-p {server.port} -k {base_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = server._run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(server.data_dir),
        "-l",
        str(base_dir / "server.log"),
        "-o",
        options,
        "-w",
        "-t",
        "60",
        "start",
    )
    if start.returncode != 0:
        log = (base_dir / "server.log").read_text() if (base_dir / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {start.stderr.strip()} {log[-2000:]}")
    return server
