"""The production-shaped stack of a step: nginx in front of two Daphne processes, one Redis.

`python -m workshop run --production` and tests/production/ start it the same way:

  a copy of the step         migrated, `collectstatic` into a scratch STATIC_ROOT; on a step
                             with users, the demo account (accounts.DEMO)
  Redis                      REDIS_URL if it answers, else a private redis-server
  the database               on a step that saves messages: DATABASE_URL if set, else a
                             private PostgreSQL (SQLite in the copy, said so, without one);
                             the settings read it as docs/production.md says (overrides/)
  two Daphne processes       `daphne --proxy-headers`, DEBUG off, settings from the environment
  extra processes            whatever the step's capabilities need (EXTRA_PROCESSES)
  nginx                      docs/production/nginx.conf on a free port (production_nginx.py)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from .accounts import DEMO, Account, create_accounts
from .manifest import Step
from .overrides.workshop_database_url import postgres_url_problem
from .ports import free_port
from .postgres_server import PostgresServer, PostgresUnavailable
from .processes import stop_process
from .production_nginx import Nginx
from .redis_server import INSTALL_HINT, RedisServer, RedisUnavailable, find_redis_server, ping
from .step_server import (
    MACHINE_SENDER_LIMITS,
    StepServer,
    StepServerError,
    copy_project,
    project_env,
    run_manage,
)
from .step_worker import celery_worker_argv

OVERRIDES_DIR = pathlib.Path(__file__).resolve().parent / "overrides"
SERVER_PROCESSES = 2


@dataclasses.dataclass(frozen=True)
class ExtraProcess:
    """A process the step needs beside Daphne (a task worker, `runworker`): run in the copy."""

    name: str
    argv: tuple[str, ...]  # after the Python executable, e.g. ("manage.py", "runworker", "x")


# The processes a capability adds to the stack, started in the copy with the stack's
# environment (REDIS_URL, and DATABASE_URL when the caller sets it) once Daphne runs.
# A step that needs one adds one entry.
EXTRA_PROCESSES: dict[str, tuple[ExtraProcess, ...]] = {
    # Step 10: the Channels worker that delivers @mentions (chat/mentions.py).
    "worker": (ExtraProcess("runworker", ("manage.py", "runworker", "mentions")),),
    # Step 11: the Celery worker that runs the /logs/ page's jobs (chat/tasks.py).
    "tasks": (ExtraProcess("celery", tuple(celery_worker_argv())),),
}


class ProductionServer(StepServer):
    """Daphne as docs/production.md starts it: with --proxy-headers, behind nginx."""

    def command(self) -> list[str]:
        return [*super().command(), "--proxy-headers"]


class ProductionStack:
    """Start with `with ProductionStack(step) as stack:`; stack.url is the address to open.

    Like a StepServer, it has `accounts` (the demo account on a step with users) and the
    `sessions` logged in so far, so accounts.session_for(stack) logs in through nginx.
    """

    def __init__(
        self,
        step: Step,
        project_dir: pathlib.Path | None = None,
        redis_url: str | None = None,
        scratch: pathlib.Path | None = None,
        port: int | None = None,
        say: Callable[[str], None] = lambda message: None,
        machine_senders: bool = False,
    ):
        # machine_senders: raise the chat's per-user limits (messages, jobs), for a load
        # whose one machine acts for every member (the stack's tests, bench-production).
        self.machine_senders = machine_senders
        self.step = step
        self.source = pathlib.Path(project_dir or step.path)
        self.redis_url = redis_url
        self.port = port
        self.say = say
        self._exit = contextlib.ExitStack()
        self._scratch_arg = scratch
        self.servers: list[ProductionServer] = []
        self.extra: dict[str, subprocess.Popen] = {}  # by ExtraProcess.name
        self.nginx: Nginx | None = None
        self.accounts: tuple[Account, ...] = ()
        self.sessions: dict[str, str] = {}

    # --- where to reach it ------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.nginx.url

    def ws_url(self, path: str) -> str:
        return self.url.replace("http://", "ws://", 1) + path

    # --- starting and stopping ---------------------------------------------------------

    def start(self) -> ProductionStack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.scratch = self._scratch_arg or pathlib.Path(
            self._exit.enter_context(tempfile.TemporaryDirectory(prefix="ws-production-"))
        )
        self.static_root = self.scratch / "static"
        if self.redis_url is None:
            self.redis_url = self._redis()
        self.copy = copy_project(self.source, self.scratch)
        if self.machine_senders:
            self.say(
                "The per-user limits are raised (CHAT_MESSAGES_PER_SECOND, CHAT_MESSAGE_BURST, "
                "CHAT_JOBS_PER_USER): one machine acts for every member."
            )
        self.env = project_env(
            self.redis_url,
            **self._database(),
            **(MACHINE_SENDER_LIMITS if self.machine_senders else {}),
            DJANGO_SETTINGS_MODULE="workshop_production_settings",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(OVERRIDES_DIR), os.environ.get("PYTHONPATH")])
            ),
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            WORKSHOP_STATIC_ROOT=str(self.static_root),
        )
        self.say(f"Preparing {self.source.name}: migrate, collectstatic ...")
        run_manage(self.copy, "migrate", "--verbosity", "0", env=self.env)
        run_manage(self.copy, "collectstatic", "--noinput", "--verbosity", "0", env=self.env)
        if self.step.has("login"):
            create_accounts(self.copy, self.env, (DEMO,))
            self.accounts = (DEMO,)
        ports = [free_port() for _ in range(SERVER_PROCESSES)]
        for port in ports:
            self.say(f"Starting Daphne on 127.0.0.1:{port} ...")
            self.servers.append(ProductionServer(self.copy, self.env, port=port).start())
        for capability in self.step.capabilities:
            for process in EXTRA_PROCESSES.get(capability, ()):
                self._start_extra(process)
        self.say("Starting nginx ...")
        self.nginx = Nginx(self.scratch, ports, self.static_root, port=self.port).start()

    def _redis(self) -> str:
        url = os.environ.get("REDIS_URL")
        if url and ping(url):
            self.say(f"Using the Redis at {url}.")
            return url
        if find_redis_server() is None:
            raise RedisUnavailable(f"redis-server was not found. {INSTALL_HINT}")
        server = self._exit.enter_context(RedisServer())
        self.say(f"Started a private redis-server at {server.url}.")
        return server.url

    def _database(self) -> dict[str, str]:
        """DATABASE_URL for a step that saves messages (docs/production.md, "The database"):
        the caller's, else a private PostgreSQL; without PostgreSQL, the copy's SQLite, said
        so. workshop_database_settings.py turns it into DATABASES."""
        url = os.environ.get("DATABASE_URL")
        if url and (problem := postgres_url_problem(url)):
            raise StepServerError(problem)  # before Django is asked to read it
        if not self.step.has("history"):
            return {}
        if url:
            self.say("Using the database at DATABASE_URL.")
            return {}  # project_env passes the caller's environment on
        try:
            server = self._exit.enter_context(PostgresServer())
        except PostgresUnavailable as error:
            self.say(f"No PostgreSQL, so the messages go to SQLite in the copy: {error}")
            return {}
        self.say(f"Started a private PostgreSQL at {server.url}.")
        return {"DATABASE_URL": server.url}

    def _start_extra(self, process: ExtraProcess) -> None:
        self.say(f"Starting {process.name} ...")
        with open(self._extra_log(process.name), "ab") as log:
            self.extra[process.name] = subprocess.Popen(
                [sys.executable, *process.argv],
                cwd=self.copy,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _extra_log(self, name: str) -> pathlib.Path:
        return self.scratch / f"{name}.log"

    def close(self) -> None:
        """Stop everything this stack started (nginx first, Redis last)."""
        if self.nginx is not None:
            self.nginx.stop()
        for process in self.extra.values():
            stop_process(process)
        for server in self.servers:
            server.stop()
        self._exit.close()

    def __enter__(self) -> ProductionStack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- faults and restarts (tests, benchmarks) ------------------------------------------

    def kill(self, index: int) -> None:
        """SIGKILL one Daphne process, as a crash would."""
        server = self.servers[index]
        server.process.kill()
        server.process.wait(timeout=10)
        server.process = None

    def restart(self, index: int) -> None:
        """Stop one Daphne process (SIGTERM, as a deploy does) and start it on the same port."""
        server = self.servers[index]
        server.stop()
        server.start()

    def wait(self, interval: float = 0.5) -> str:
        """Block until one of the stack's processes exits; returns which one."""
        while True:
            named = [(f"Daphne on port {s.port}", s.process) for s in self.servers]
            named += list(self.extra.items())
            named.append(("nginx", self.nginx.process))
            for name, process in named:
                if process is None or process.poll() is not None:
                    return name
            time.sleep(interval)

    def log_text(self) -> str:
        """Every process's log, for a failing test's report."""
        parts = [f"--- {server.log_path.name}\n{server.log_text()}" for server in self.servers]
        if self.nginx is not None:
            parts.append(f"--- nginx\n{self.nginx.log_text()}")
        for name in self.extra:
            parts.append(f"--- {name}\n{self._extra_log(name).read_text(errors='replace')}")
        return "\n".join(parts)
