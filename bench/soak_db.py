"""The soak's own PostgreSQL: a throwaway cluster it can restart, or a fresh schema in a server it is given.

The shared server on 127.0.0.1:5432 is never restarted: other people's tests run on it.  ``initdb`` refuses
to run as root, so as root every PostgreSQL binary runs through ``runuser -u postgres`` in a directory
owned by postgres.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` binary (``/usr/lib/postgresql/<v>/bin``), else ``$PATH``."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise RuntimeError(f"no PostgreSQL {name} found in /usr/lib/postgresql/*/bin or on PATH")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def with_app_name(url: str, app: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}application_name={app}"


@dataclass
class Database:
    """Where the soak's store lives, and the faults it can apply to it."""

    url: str
    """The store's URL (the workers add their ``application_name``)."""
    admin_url: str
    """A superuser connection to the same server, for ``pg_terminate_backend``."""
    restart_command: str | None = None
    cluster: Path | None = None
    port: int = 0
    schema: str | None = None
    log: Path | None = None
    restarts: int = field(default=0)

    @property
    def can_restart(self) -> bool:
        return self.cluster is not None or self.restart_command is not None

    def terminate(self, app: str) -> int:
        """``pg_terminate_backend`` on every connection whose application name starts with ``app``."""
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name LIKE %s",
                (f"{app}%",),
            ).fetchall()
        return len(rows)

    def restart(self) -> float:
        """Restart the server (the throwaway cluster, or ``restart_command``); the seconds it took."""
        started = time.monotonic()
        if self.cluster is not None:
            subprocess.run(
                _as_postgres([pg_bin("pg_ctl"), "-D", str(self.cluster), "-m", "fast", "-w", "-t", "60", "restart"]),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        elif self.restart_command is not None:
            subprocess.run(self.restart_command, shell=True, check=True)  # noqa: S602 - the operator's own command
        else:
            raise RuntimeError("this database cannot be restarted by the soak")
        self.restarts += 1
        return time.monotonic() - started

    def close(self) -> None:
        """Stop and delete the throwaway cluster, or drop the schema made in a given server."""
        if self.cluster is not None:
            subprocess.run(
                _as_postgres([pg_bin("pg_ctl"), "-D", str(self.cluster), "-m", "immediate", "-w", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            shutil.rmtree(self.cluster.parent, ignore_errors=True)
        elif self.schema is not None:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def throwaway_cluster() -> Database:
    """``initdb`` into a temp dir (trust auth), start it on a free port, create database ``soak``."""
    root = Path(tempfile.mkdtemp(prefix="mentiondesk-soak-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    log = root / "postgresql.log"
    try:
        subprocess.run(
            _as_postgres([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(
            _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start a throwaway PostgreSQL: {exc.stderr.decode(errors='replace')}") from exc
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE soak")
    url = f"postgresql://postgres@127.0.0.1:{port}/soak"
    return Database(url=url, admin_url=admin, cluster=data, port=port, log=log)


def schema_in(url: str, restart_command: str | None) -> Database:
    """A fresh schema in an existing server; its URL routes every connection there."""
    schema = f"soak_{uuid.uuid4().hex[:8]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return Database(
        url=f"{url}{sep}options=-csearch_path%3D{schema}",
        admin_url=plain,
        restart_command=restart_command,
        schema=schema,
    )
