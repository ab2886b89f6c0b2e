"""The Python a student runs their project with, and what is installed in it.

`python -m workshop` itself runs in the repository's .venv, but a student serves
their folder with `python manage.py runserver` from their own virtual environment.
Checks about packages and settings must ask that interpreter, not this one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

# Runs in the student's interpreter: standard library only.
_REPORT = """\
import json, sys
from importlib import metadata

def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None

print(json.dumps({
    "version": list(sys.version_info[:3]),
    "packages": {name: version(name) for name in sys.argv[1:]},
}))
"""


class InterpreterError(Exception):
    """The chosen interpreter does not exist or does not run."""


@dataclasses.dataclass(frozen=True)
class Interpreter:
    path: pathlib.Path
    why: str  # how it was chosen, said in the report

    def report(self, packages: list[str]) -> tuple[tuple[int, ...], dict[str, str | None]]:
        """(its Python version, {package: installed version or None})."""
        try:
            completed = subprocess.run(
                [str(self.path), "-c", _REPORT, *packages],
                capture_output=True,
                text=True,
                timeout=60,
            )
            found = json.loads(completed.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as error:
            raise InterpreterError(f"{self.path} does not run: {error}") from error
        return tuple(found["version"]), found["packages"]


def venv_python(venv: pathlib.Path) -> pathlib.Path:
    """The python of a virtual environment folder, on Windows and elsewhere."""
    windows = venv / "Scripts" / "python.exe"
    return windows if windows.exists() else venv / "bin" / "python"


def student_python(explicit: str | None, project: pathlib.Path | None) -> Interpreter:
    """The interpreter `python manage.py` would use, in this order of evidence:

    --python PATH; the active virtualenv ($VIRTUAL_ENV); for a --project, a .venv or
    venv inside it, else the `python` on PATH (what `python manage.py` runs); else the
    workshop's own Python, which `python -m workshop run` serves the steps with.
    """
    if explicit:
        return Interpreter(pathlib.Path(explicit), "given with --python")
    active = os.environ.get("VIRTUAL_ENV")
    if active:
        return Interpreter(venv_python(pathlib.Path(active)), f"your active virtualenv {active}")
    if project is not None:
        for name in (".venv", "venv"):
            candidate = venv_python(project / name)
            if candidate.exists():
                return Interpreter(candidate, f"the virtualenv in your folder ({name})")
        on_path = shutil.which("python") or shutil.which("python3")
        if on_path:
            return Interpreter(
                pathlib.Path(on_path), "the `python` on your PATH (no virtualenv is active)"
            )
    return Interpreter(pathlib.Path(sys.executable), "the workshop's own, which `run` uses")
