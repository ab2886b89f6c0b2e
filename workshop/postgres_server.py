"""A throwaway PostgreSQL server on a free port, for steps that can run on PostgreSQL.

The steps save messages in SQLite from step 08 on; docs/production.md says how to move
them to PostgreSQL (DATABASE_URL, read by dj-database-url), and the tooling serves them
so through overrides/workshop_database_settings.py: the tests run the history and load
tests once against a real PostgreSQL, and `run --production` serves the last step on one.
The server is started here as redis_server.py starts Redis: a fresh data directory,
127.0.0.1 and a free port, no password (trust), stopped at the end.

PostgreSQL refuses to run as root. Run as root (a container, CI), the programs run
as the `postgres` user that the Debian package creates, through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import subprocess
import tempfile

from .ports import free_port

INSTALL_HINT = (
    "Install PostgreSQL: Debian/Ubuntu `sudo apt-get install postgresql`; "
    "macOS `brew install postgresql@15`; or set PG_BIN to the folder holding initdb and pg_ctl."
)
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started."""


def find_bin_dir() -> pathlib.Path | None:
    """The folder of initdb and pg_ctl (PG_BIN overrides), or None."""
    candidates = [os.environ.get("PG_BIN")]
    on_path = shutil.which("pg_ctl")
    candidates.append(os.path.dirname(os.path.realpath(on_path)) if on_path else None)
    # Debian keeps them off PATH, one folder per major version: take the newest.
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for candidate in candidates:
        if candidate and (pathlib.Path(candidate) / "initdb").is_file():
            return pathlib.Path(candidate)
    return None


class PostgresServer:
    """A PostgreSQL server child process on 127.0.0.1:<free port>, with one database.

    Use as a context manager, or call start() and close().
    """

    def __init__(self, database: str = "chat", port: int | None = None):
        self.database = database
        self.port = port or free_port()
        self._tempdir: str | None = None
        self._bin: pathlib.Path | None = None
        self.running = False

    @property
    def url(self) -> str:
        """The DATABASE_URL of its database."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def _as_server_user(self) -> list[str]:
        return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        """Run one of PostgreSQL's programs as the server's user; its output."""
        command = [*self._as_server_user, str(self._bin / program), *args]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except OSError as error:
            message = f"{program} could not start: {error}. {INSTALL_HINT}"
            raise PostgresUnavailable(message) from error
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"`{' '.join(command)}` failed (exit {result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}{self._log_tail()}"
            )
        return result.stdout

    def start(self) -> PostgresServer:
        self._bin = find_bin_dir()
        if self._bin is None:
            raise PostgresUnavailable(f"PostgreSQL's initdb was not found. {INSTALL_HINT}")
        # Not under pytest's own temporary folder: that one is private to the user
        # running the tests, and the server's user must be able to write here.
        self._tempdir = tempfile.mkdtemp(prefix="workshop-postgres-")
        if os.geteuid() == 0:
            shutil.chown(self._tempdir, user=SUPERUSER)
        data, log = self._data_dir, self._log_path
        self._run(
            "initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        # Throwaway data: no fsync. The socket file goes into the temporary folder too.
        options = f"-p {self.port} -k {self._tempdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        self.running = True
        self.create_database(self.database)
        return self

    def create_database(self, name: str) -> None:
        self._run("createdb", *self._client_options, name)

    def has_table(self, database: str, table: str) -> bool:
        """Whether database holds table (asked with psql, not through Django)."""
        query = f"SELECT to_regclass('{table}') IS NOT NULL"
        return self._run("psql", *self._client_options, "-d", database, "-Atc", query) == "t\n"

    @property
    def _client_options(self) -> tuple[str, ...]:
        return ("-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER)

    @property
    def _data_dir(self) -> pathlib.Path:
        return pathlib.Path(self._tempdir) / "data"

    @property
    def _log_path(self) -> pathlib.Path:
        return pathlib.Path(self._tempdir) / "postgres.log"

    def _log_tail(self) -> str:
        try:
            return "\nServer log:\n" + self._log_path.read_text(errors="replace")[-2000:]
        except (OSError, TypeError):
            return ""

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._run("pg_ctl", "-D", str(self._data_dir), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._tempdir is not None:
                shutil.rmtree(self._tempdir, ignore_errors=True)
                self._tempdir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()
