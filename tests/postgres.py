"""A throwaway PostgreSQL on loopback for tests (Debian's package, as scripts/cluster.sh uses it).

`scripts/cluster.sh setup` installs the package when it is missing (under its own lock, so the cluster
test's setup on the other xdist worker does not run apt-get beside it). The server runs as the user
`postgres` with trust authentication on 127.0.0.1 only, in a folder that user can reach, and is stopped
and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str = "postgres"

    def connect(self, database: str = "postgres"):
        import psycopg2

        connection = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=database)
        connection.autocommit = True
        return connection

    def execute(self, database: str, *statements: str, rows: list[tuple] | None = None) -> None:
        connection = self.connect(database)  # not `with connection`: psycopg2 opens a transaction there
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    if rows is not None and "%s" in statement:
                        cursor.executemany(statement, rows)
                    else:
                        cursor.execute(statement)
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else list(command)


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    subprocess.run(["bash", str(PROJECT / "scripts" / "cluster.sh"), "setup"], check=True, capture_output=True,
                   cwd=PROJECT, timeout=1200)
    pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    folder = Path(tempfile.mkdtemp(prefix="regulake-pg-", dir="/tmp"))
    folder.chmod(0o777)  # the server runs as postgres: its data and socket folder must be its own
    data, port = folder / "data", _free_port()
    try:
        subprocess.run(_as_postgres(str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"),
                       check=True, capture_output=True)
        subprocess.run(_as_postgres(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                                    "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
                                          f"-c unix_socket_directories={folder}", "start"),
                       check=True, capture_output=True)
        server = Postgres("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            try:
                server.connect().close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield server
    finally:
        subprocess.run(_as_postgres(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
