"""A throwaway redis-server on a free port, and checks on a Redis URL.

Tests, notebooks and ``workshop run`` start their own Redis here rather than
assume one on port 6379: a laptop or CI machine may have none, or another
project's.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

from .ports import free_port
from .processes import stop_process, wait_until

INSTALL_HINT = (
    "Install Redis 5 or newer: Debian/Ubuntu `sudo apt-get install redis-server`; "
    "macOS `brew install redis`; Windows: inside WSL `sudo apt-get install redis-server`, "
    "or with Docker `docker run --rm -p 6379:6379 redis:7`."
)


# Where the steps' settings look when REDIS_URL is not set.
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def configured_url() -> str:
    """The Redis the steps would use: REDIS_URL, else the local default."""
    return os.environ.get("REDIS_URL") or DEFAULT_URL


def with_database(url: str, number: int) -> str:
    """The same Redis at url, database `number`: redis://host:port/0 -> redis://host:port/N.

    Channels' default layer, Celery's queue and Django's cache keep their keys in the
    database the URL names: on a database of its own, a copy of a step is a chat of its
    own, and no other copy's worker takes its jobs.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


class RedisUnavailable(RuntimeError):
    """No Redis could be reached or started."""


def find_redis_server() -> str | None:
    """Path of the redis-server program (REDIS_SERVER overrides), or None."""
    return shutil.which(os.environ.get("REDIS_SERVER") or "redis-server")


def ping(url: str, timeout: float = 1.0) -> bool:
    """True if a Redis answers PING at url."""
    import redis  # imported late: the bootstrap runs before dependencies exist

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()


def server_version(url: str) -> tuple[int, ...]:
    """The version of the Redis at url, e.g. (7, 0, 15)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return tuple(int(part) for part in client.info("server")["redis_version"].split("."))
    finally:
        client.close()


class RedisServer:
    """A redis-server child process with no persistence, on 127.0.0.1:<free port>.

    Use as a context manager, or call start() and stop().
    """

    def __init__(self, port: int | None = None, workdir: pathlib.Path | None = None):
        self.port = port or free_port()
        self._workdir = workdir
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        executable = find_redis_server()
        if executable is None:
            raise RedisUnavailable(f"redis-server was not found. {INSTALL_HINT}")
        if self._workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="workshop-redis-")
            self._workdir = pathlib.Path(self._tempdir.name)
        self.log_path = self._workdir / f"redis-{self.port}.log"
        with open(self.log_path, "ab") as log:
            try:
                self.process = self._spawn(executable, log)
            except OSError as error:
                message = f"{executable} could not start: {error}. {INSTALL_HINT}"
                raise RedisUnavailable(message) from error
        if not wait_until(lambda: ping(self.url, 0.5), timeout, process=self.process):
            log_text = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RedisUnavailable(f"redis-server did not answer on {self.url}:\n{log_text}")
        return self

    def _spawn(self, executable: str, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()
