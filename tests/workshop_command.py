"""Run `python -m workshop ...` as a student would, from the repository root."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from workshop.bootstrap import VENV_DIR
from workshop.manifest import REPO_ROOT
from workshop.ports import free_port
from workshop.temp_leftovers import temp_dir_env


def closed_redis_url() -> str:
    """A Redis URL nothing listens at."""
    return f"redis://127.0.0.1:{free_port()}/0"


def bootstrap_python() -> str | None:
    """The Python .venv was made from, to run the command as a student does (it re-runs
    itself inside .venv); None when these tests do not run inside .venv."""
    if pathlib.Path(sys.prefix).resolve() != VENV_DIR.resolve():
        return None
    base = pathlib.Path(sys.base_prefix)
    for candidate in (base / "bin" / "python3", base / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return None


CAPTURE = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}


def workshop(*args: str, env: dict[str, str] | None = None, timeout: float = 900):
    """The finished command; .output is its stdout and stderr together."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environment.pop("REDIS_URL", None)  # each test says which Redis it means
    environment.update(WORKSHOP_NO_VENV="1", PYTHONUNBUFFERED="1", NO_COLOR="1")
    environment.update(env or {})
    command = [sys.executable, "-m", "workshop", *args]
    # A temp folder of its own, removed afterwards: what the command keeps there for a
    # person to read (check's full output) or leaves when stopped is not the test run's.
    # Its name is short (Chromium's socket path must stay under 108 bytes) and others may
    # enter it (PostgreSQL runs as its own user).
    temp = tempfile.mkdtemp(prefix="c")
    os.chmod(temp, 0o755)
    environment.update(temp_dir_env(temp))
    try:
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=environment, timeout=timeout, **CAPTURE
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    completed.output = completed.stdout
    return completed
