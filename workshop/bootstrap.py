"""First-run set-up: the workshop's virtual environment, made and filled on demand.

Standard library only, because it runs before any dependency is installed.
`python -m workshop <command>` checks for .venv, creates it and installs the
locked dependencies (constraints.txt) when missing or out of date, then re-runs the
command inside it. Set WORKSHOP_NO_VENV=1 to use the Python you started with instead.

The terminal shows one line per phase; pip's own output goes to a log file whose
path and last lines are printed only when pip fails.
"""

from __future__ import annotations

import collections
import hashlib
import os
import pathlib
import signal
import subprocess
import sys
import time
import venv

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
STAMP = VENV_DIR / ".workshop-installed"
PIP_LOG = VENV_DIR / "pip-install.log"
# Every package, transitive ones included, at the version the workshop was tested
# with: `python -m workshop lock` writes it from pyproject.toml.
CONSTRAINTS = REPO_ROOT / "constraints.txt"
MINIMUM_PYTHON = (3, 11)
LOG_LINES_SHOWN = 15

# Commands that need only the chat's own packages. Everything else (test, check, slides,
# bench, notebooks) also needs the dev extras: pytest, Jupyter, Sphinx, matplotlib... A
# student who only runs the chat downloads a fraction of it, which counts on conference Wi-Fi.
RUNTIME_COMMANDS = {"run", "diff", "docs", "doctor", "-h", "--help"}
# The maintainer's commands also need the maintainer extras (uv, which writes the lock).
MAINTAINER_COMMANDS = {"lock"}
# Each level includes the ones before it.
LEVELS = ("runtime", "dev", "maintainer")
EXTRAS = {"runtime": "", "dev": "[dev]", "maintainer": "[dev,maintainer]"}


def venv_python() -> pathlib.Path:
    if os.name == "nt":
        return VENV_DIR / "Scripts" / "python.exe"
    return VENV_DIR / "bin" / "python"


def _fingerprint() -> str:
    """Changes whenever the pins or the lock change, so an update reinstalls."""
    digest = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes())
    if CONSTRAINTS.is_file():
        digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def _wanted_level(argv: list[str]) -> str:
    """The packages a command needs: 'runtime', 'dev' or 'maintainer'."""
    if not argv or argv[0] in RUNTIME_COMMANDS:
        return "runtime"
    return "maintainer" if argv[0] in MAINTAINER_COMMANDS else "dev"


def _stamp() -> tuple[str, str]:
    """(fingerprint, level) of the last install, or empty strings."""
    if not STAMP.is_file():
        return "", ""
    fingerprint, _, level = STAMP.read_text().partition(" ")
    return fingerprint, level if level in LEVELS else ""


def _satisfied(wanted: str) -> bool:
    fingerprint, level = _stamp()
    return (
        fingerprint == _fingerprint()
        and bool(level)
        and LEVELS.index(level) >= LEVELS.index(wanted)
    )


def _level_to_install(wanted: str) -> str:
    """What the command wants, or more if more was installed before (pins changed since)."""
    _, level = _stamp()
    return max(wanted, level or wanted, key=LEVELS.index)


def _show_progress(message: str) -> None:
    """Rewrite the current terminal line; outside a terminal, stay quiet until the end."""
    if sys.stdout.isatty():
        print(f"\r[workshop] {message}\033[K", end="", flush=True)


def _pip_install(python: pathlib.Path, arguments: list[str]) -> None:
    """Run pip with its output in PIP_LOG and one progress line; exit with the log on failure."""
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *arguments]
    started = time.monotonic()
    collected = 0
    last_lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES_SHOWN)
    with open(PIP_LOG, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        for line in process.stdout:
            log.write(line)
            last_lines.append(line.rstrip())
            if line.startswith("Collecting ") or line.startswith("Obtaining "):
                collected += 1
                _show_progress(f"Installing: {collected} packages resolved...")
            elif line.startswith("Installing collected packages"):
                _show_progress(f"Installing: unpacking {collected} packages...")
        code = process.wait()
    if sys.stdout.isatty():
        print("\r\033[K", end="", flush=True)
    if code != 0:
        print("\n".join(f"  | {line}" for line in last_lines), file=sys.stderr, flush=True)
        sys.exit(
            f"[workshop] pip could not install the packages (its last lines are above; the "
            f"whole log is {PIP_LOG}). Check your network, then run the same command again; "
            f"it picks up where it stopped. To start over, delete the folder {VENV_DIR}."
        )
    _say(f"Installed in {time.monotonic() - started:.0f} s.")


def _install(python: pathlib.Path, level: str) -> None:
    if level == "runtime":
        what = "the chat's packages (Django, Channels, Daphne, ...)"
    else:
        what = "the packages and the tools for tests, notebooks and slides"
    _say(f"Installing {what}: a minute or a few (pip's log: {PIP_LOG})")
    PIP_LOG.write_text("")
    constraints = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.is_file() else []
    _pip_install(python, [*constraints, "-e", f"{REPO_ROOT}{EXTRAS[level]}"])
    STAMP.write_text(f"{_fingerprint()} {level}")


def _prepare(wanted: str) -> None:
    """Create .venv and install what the command needs, unless that is done already."""
    if not venv_python().exists():
        _say(f"Creating the virtual environment {VENV_DIR} ...")
        venv.EnvBuilder(with_pip=True).create(VENV_DIR)
    if not _satisfied(wanted):
        _install(venv_python(), _level_to_install(wanted))


def _run_inside_venv(argv: list[str]) -> int:
    """Re-run the command with .venv's Python; Ctrl-C is the child's to handle.

    The terminal sends Ctrl-C to both processes. The child stops cleanly and says so;
    this process only waits for it. A Python-level handler (not SIG_IGN, which the child
    would inherit) keeps KeyboardInterrupt out of this process.
    """
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return subprocess.call([str(venv_python()), "-m", "workshop", *argv], cwd=os.getcwd())
    finally:
        signal.signal(signal.SIGINT, previous)


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
    if inside and _satisfied(wanted):
        return
    try:
        _prepare(wanted)
    except KeyboardInterrupt:
        print(flush=True)
        sys.exit("[workshop] Set-up interrupted (Ctrl-C). Run the same command again to go on.")
    if inside:
        return
    sys.exit(_run_inside_venv(argv))
