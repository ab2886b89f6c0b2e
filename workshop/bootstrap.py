"""First-run set-up: the workshop's virtual environment, made and filled on demand.

Standard library only, because it runs before any dependency is installed.
`python -m workshop <command>` checks for .venv, creates it and installs the
pinned dependencies when missing or out of date, then re-runs the command
inside it. Set WORKSHOP_NO_VENV=1 to use the Python you started with instead.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import venv

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
STAMP = VENV_DIR / ".workshop-installed"
MINIMUM_PYTHON = (3, 11)

# Commands that need only the chat's own packages. Everything else (test, check, slides,
# bench, notebooks) also needs the dev extras: pytest, Jupyter, Sphinx, matplotlib... A
# student who only runs the chat downloads a fraction of it, which counts on conference Wi-Fi.
RUNTIME_COMMANDS = {"run", "diff", "docs", "doctor", "-h", "--help"}


def venv_python() -> pathlib.Path:
    if os.name == "nt":
        return VENV_DIR / "Scripts" / "python.exe"
    return VENV_DIR / "bin" / "python"


def _fingerprint() -> str:
    """Changes whenever the pins change, so an update reinstalls."""
    return hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def _wanted_level(argv: list[str]) -> str:
    """'runtime' for commands that only serve or inspect the steps, else 'dev'."""
    return "runtime" if not argv or argv[0] in RUNTIME_COMMANDS else "dev"


def _installed_level() -> str | None:
    """What the stamp says was installed for the current pins, or None."""
    if not STAMP.is_file():
        return None
    fingerprint, _, level = STAMP.read_text().partition(" ")
    return level if fingerprint == _fingerprint() else None


def _satisfied(wanted: str) -> bool:
    return _installed_level() in ({"dev"} if wanted == "dev" else {"runtime", "dev"})


def _install(python: pathlib.Path, level: str) -> None:
    if level == "dev":
        _say(
            "Installing the pinned packages and the tools for tests, notebooks and slides: "
            "a few minutes..."
        )
        target = f"{REPO_ROOT}[dev]"
    else:
        _say("Installing the pinned packages (Django, Channels, Daphne, ...): about a minute...")
        target = str(REPO_ROOT)
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    steps = [command + ["--quiet", "--upgrade", "pip"], command + ["-e", target]]
    for step in steps:
        if subprocess.call(step, cwd=REPO_ROOT) != 0:
            sys.exit(
                "[workshop] pip could not install the packages (see its output above). "
                "Check your network, then run the same command again; it picks up where it "
                f"stopped. To start over, delete the folder {VENV_DIR}."
            )
    STAMP.write_text(f"{_fingerprint()} {level}")
    _say("Packages installed.")


def ensure_environment(argv: list[str]) -> None:
    """Return when running inside an up-to-date .venv; otherwise set it up and re-run there."""
    if sys.version_info < MINIMUM_PYTHON:
        sys.exit(
            f"[workshop] Python {sys.version.split()[0]} is too old: the workshop needs "
            f"{'.'.join(map(str, MINIMUM_PYTHON))} or newer. Install it from python.org "
            "(or your package manager) and run the command with that python."
        )
    if os.environ.get("WORKSHOP_NO_VENV") == "1":
        return
    inside = pathlib.Path(sys.prefix).resolve() == VENV_DIR.resolve()
    wanted = _wanted_level(argv)
    up_to_date = _satisfied(wanted)
    if inside and up_to_date:
        return
    if not venv_python().exists():
        _say(f"Creating the virtual environment {VENV_DIR} ...")
        venv.EnvBuilder(with_pip=True).create(VENV_DIR)
    if not up_to_date:
        _install(venv_python(), wanted)
    if inside:
        return
    completed = subprocess.run([str(venv_python()), "-m", "workshop", *argv], cwd=os.getcwd())
    sys.exit(completed.returncode)
