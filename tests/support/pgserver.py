"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder, on a free port.

The server binaries come from Debian's ``postgresql`` package (scripts/install.sh installs it), which
keeps them off PATH in ``/usr/lib/postgresql/<major>/bin`` (the newest major is taken);
``FORMCHECK_PG_BIN`` names the folder to use instead (then only that one).
``initdb`` refuses to run as root, so as root the server's files belong to an unprivileged user
(``nobody``) and its commands run as that user (``runuser``); otherwise they run as the caller.

The server is made for speed, not durability (fsync off): it only ever holds test data.
It listens on 127.0.0.1 only, and trusts local connections (there is nothing to protect in it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ENV_PG_BIN = "FORMCHECK_PG_BIN"
#: Unprivileged account the server runs as when the tests run as root.
SERVER_USER = "nobody"
SUPERUSER = "formcheck"
#: Where Debian's postgresql-NN packages put their server binaries (NN/bin).
DEBIAN_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says where they were looked for)."""


def find_bin_dir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: $FORMCHECK_PG_BIN, PATH, else the newest Debian one."""
    env = os.environ.get(ENV_PG_BIN, "").strip()
    if env:  # named: that folder only
        candidates = [Path(env)]
    else:
        on_path = shutil.which("initdb")
        candidates = [Path(on_path).resolve().parent] if on_path else []  # (a symlink to the real bin folder)
        candidates += sorted(DEBIAN_ROOT.glob("*/bin"),
                             key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1, reverse=True)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    looked = ", ".join(str(c) for c in candidates) or "PATH and /usr/lib/postgresql/*/bin"
    raise PgUnavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) in {looked}; "
                        "install Debian's postgresql package (scripts/install.sh does as root)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server; ``url(dbname)`` is its SQLAlchemy URL, ``stop()`` ends it and removes its files."""

    bin_dir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (a copy of ``template`` if given); returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start(bin_dir: Path | None = None) -> PgServer:
    """Start a new server in a new temporary folder; raises PgUnavailable or RuntimeError (with its log)."""
    bin_dir = bin_dir or find_bin_dir()
    as_user = SERVER_USER if os.geteuid() == 0 else None
    # Not under pytest's tmp folders: those are private to the caller, and the server's user must reach it.
    root = Path(tempfile.mkdtemp(prefix="formcheck-pg-"))
    if as_user:
        shutil.chown(root, user=as_user)
    server = PgServer(bin_dir, root, 0, as_user)
    try:
        r = server._run("initdb", "-D", str(server.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync")
        if r.returncode:
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        last = ""
        for _ in range(3):  # another process may take the free port between the check and the start
            server.port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={root} "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
            r = server._run("pg_ctl", "-D", str(server.data), "-l", str(root / "server.log"), "-o", opts,
                            "-t", str(START_TIMEOUT_S), "-w", "start")
            if r.returncode == 0:
                return server
            log = root / "server.log"
            last = (r.stderr + (log.read_text(errors="replace") if log.exists() else "")).strip()[-2000:]
            time.sleep(0.2)
        raise RuntimeError(f"pg_ctl start failed: {last}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
