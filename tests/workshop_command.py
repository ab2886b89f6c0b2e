"""Run `python -m workshop ...` as a student would, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

from workshop.manifest import REPO_ROOT


def workshop(*args: str, env: dict[str, str] | None = None, timeout: float = 900):
    """The finished command; .output is its stdout and stderr together."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environment.pop("REDIS_URL", None)  # each test says which Redis it means
    environment.update(WORKSHOP_NO_VENV="1", PYTHONUNBUFFERED="1", NO_COLOR="1")
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "workshop", *args],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    completed.output = completed.stdout
    return completed
