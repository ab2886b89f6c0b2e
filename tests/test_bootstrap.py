"""The first run's set-up: one line per phase on the terminal, pip's output in a log file,
and, when pip fails, the log's path and its last lines (tested offline with --no-index)."""

import os
import shutil
import subprocess

import pytest

from tests.workshop_command import bootstrap_python
from workshop.bootstrap import LOG_LINES_SHOWN
from workshop.manifest import REPO_ROOT

MISSING = "no-such-package-for-the-workshop-bootstrap-test"


def test_a_failing_install_shows_the_log_path_and_its_last_lines_only(tmp_path):
    python = bootstrap_python()
    if python is None:
        pytest.fail("run the tests inside .venv (python -m workshop test), not another Python")
    # A checkout of its own whose pyproject asks for a package no index has.
    shutil.copytree(
        REPO_ROOT / "workshop", tmp_path / "workshop", ignore=shutil.ignore_patterns("__pycache__")
    )
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    start = pyproject.index("dependencies = [")
    end = pyproject.index("]", start)
    (tmp_path / "pyproject.toml").write_text(
        f'{pyproject[:start]}dependencies = ["{MISSING}==1.0"{pyproject[end:]}'
    )
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    env = {k: v for k, v in os.environ.items() if k != "WORKSHOP_NO_VENV"}
    env.update(PIP_NO_INDEX="1", PYTHONUNBUFFERED="1")  # offline: no PyPI needed, none asked
    result = subprocess.run(
        [python, "-m", "workshop", "diff", "1", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    output = result.stdout
    log = tmp_path / ".venv" / "pip-install.log"
    assert result.returncode != 0, output
    assert f"the whole log is {log}" in output, output
    lines = output.splitlines()
    shown = [line.removeprefix("  | ") for line in lines if line.startswith("  | ")]
    assert 0 < len(shown) <= LOG_LINES_SHOWN, output
    # Offline, pip fails on the build's setuptools or on the missing package: either way,
    # the lines shown are the log's last ones, and they say what went wrong.
    assert shown == [line.rstrip() for line in log.read_text().splitlines()][-len(shown) :]
    assert "error" in "\n".join(shown).lower(), output
    # Everything else is the tool's own lines: no pip chatter, no traceback.
    others = [line for line in lines if line and not line.startswith("  | ")]
    assert all(line.startswith("[workshop] ") for line in others), output
    assert len(others) <= 4, output
