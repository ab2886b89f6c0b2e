"""A step's Django project, copied into a scratch folder and served by Daphne.

Copying proves the step is self-contained: a step that reaches outside its own
folder fails here exactly as it would on a student's laptop.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

from .ports import free_port
from .processes import answers_http, stop_process, wait_until

# What a copy leaves behind: bytecode and databases belong to the copy; a student's
# folder (`workshop check`) may also hold a virtual environment or a git repository.
_NOT_COPIED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "db.sqlite3", "test_db.sqlite3", "*.sqlite3-wal", "*.sqlite3-shm",
    ".venv", "venv", ".git", "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache",
)  # fmt: skip


class StepServerError(RuntimeError):
    """A step's project could not be migrated or served."""


def copy_project(source: pathlib.Path, destination_parent: pathlib.Path) -> pathlib.Path:
    """Copy a project folder to destination_parent/<same name>; returns the copy."""
    source = pathlib.Path(source)
    if not (source / "manage.py").is_file():
        raise StepServerError(f"{source} has no manage.py: is it a Django project folder?")
    destination = pathlib.Path(destination_parent) / source.name
    shutil.copytree(source, destination, ignore=_NOT_COPIED)
    return destination


# From step 07 one user may send about 5 messages a second, 20 at once (chat/limits.py,
# CHAT_MESSAGES_PER_SECOND and CHAT_MESSAGE_BURST in settings.py), and from step 12 run 3
# log jobs at once (CHAT_JOBS_PER_USER): a person never meets that. The tests, the
# benchmark and the production stack's load act for hundreds of members from one
# machine, mostly as one user: their servers raise the limits, and say so.
MACHINE_SENDER_LIMITS = {
    "CHAT_MESSAGES_PER_SECOND": "1000000",
    "CHAT_MESSAGE_BURST": "1000000",
    "CHAT_JOBS_PER_USER": "100",
}


def project_env(redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a step runs in: ours, plus REDIS_URL and any extra variables."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py and asgi.py set their own
    env["PYTHONUNBUFFERED"] = "1"
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def run_manage(
    project_dir: pathlib.Path,
    *args: str,
    env: dict[str, str],
    timeout: float = 300,
    python: str = sys.executable,
):
    """Run `python manage.py ARGS` in project_dir; raise StepServerError on failure.

    python is the interpreter the step runs with (by default the tooling's own).
    """
    result = subprocess.run(
        [python, "manage.py", *args],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise StepServerError(
            f"`python manage.py {' '.join(args)}` failed in {project_dir} "
            f"(exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


class StepServer:
    """Daphne serving one project folder on 127.0.0.1:<port>.

    With coverage_rcfile set, Daphne runs under coverage.py so that the step's
    code is measured in the process that really executes it. `accounts` are the
    logins that exist in its database (steps with users; see accounts.py), and
    `sessions` the session cookies logged in so far, by username. python is the
    interpreter (with the step's packages) that runs Daphne: by default the tooling's own.
    """

    def __init__(
        self,
        project_dir: pathlib.Path,
        env: dict[str, str],
        port: int | None = None,
        coverage_rcfile: pathlib.Path | None = None,
        accounts: tuple = (),
        python: str = sys.executable,
    ):
        self.python = python
        self.project_dir = pathlib.Path(project_dir)
        self.env = env
        self.port = port or free_port()
        self.coverage_rcfile = coverage_rcfile
        self.accounts = tuple(accounts)
        self.sessions: dict[str, str] = {}
        self.log_path = self.project_dir.parent / f"daphne-{self.project_dir.name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def python_command(self) -> list[str]:
        """The step's Python, under coverage.py when measuring."""
        if not self.coverage_rcfile:
            return [self.python]
        return [
            self.python, "-m", "coverage", "run", "--parallel-mode",
            f"--rcfile={self.coverage_rcfile}", f"--source={self.project_dir}",
        ]  # fmt: skip

    def manage(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """`python manage.py ARGS` in the served folder, as a second terminal runs it (its
        output captured, its exit code not checked), measured when the server is."""
        return subprocess.run(
            [*self.python_command(), "manage.py", *args],
            cwd=self.project_dir,
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def command(self) -> list[str]:
        return self.python_command() + [
            "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "chatsite.asgi:application",
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> StepServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.project_dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(self.ready, timeout, interval=0.2, process=self.process):
            self.stop()
            raise StepServerError(
                f"{self.not_ready()} within {timeout:.0f} s. Its output:\n{self.log_text()[-4000:]}"
            )
        return self

    def not_ready(self) -> str:
        return f"Daphne did not start serving {self.project_dir.name} on {self.url}"

    def ready(self) -> bool:
        """Whether the process serves yet (subclasses that are not web servers override it)."""
        return answers_http(self.url + "/chat/")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 10.0) -> int | None:
        if self.process is None:
            return None
        code = stop_process(self.process, grace)
        self.process = None
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
