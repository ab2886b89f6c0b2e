"""The Pythons students bring: the last step installed as a student installs it, and tested.

`workshop test --python 3.10` makes a virtual environment with that interpreter (plain
`venv` + `pip install -r requirements.txt`, nothing of the tooling), and runs a handful
of the last step's acceptance tests against servers started with it; the tests
themselves run in the tooling's Python (tests/conftest.py: --step-python).
`workshop test --latest` does the same on 3.13 with every step dependency at its newest
release, to learn before a workshop whether the pins must move.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

from .manifest import REPO_ROOT, Step

LANES_DIR = REPO_ROOT / ".lanes"
LATEST_PYTHON = "3.13"

# A handful of tests that serve the step with the lane's interpreter: runserver,
# rooms through Redis across two processes, the input checks, and the step's own suite.
LANE_TESTS = (
    "tests/acceptance/test_runserver.py",
    "tests/acceptance/test_groups.py",
    "tests/acceptance/test_input_checks.py",
    "tests/test_student_suite.py",
)


def install_hint(version: str) -> str:
    return (
        f"Install Python {version}: `pyenv install {version}`, or Debian/Ubuntu "
        f"`sudo apt-get install python{version} python{version}-venv` (deadsnakes PPA), "
        f"macOS `brew install python@{version}`, Windows: python.org's installer"
    )


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.split("versions/")[-1])[:3])


def find_python(version: str) -> str | None:
    """An interpreter for `version` ("3.10") that runs: pyenv's newest, else pythonX.Y on PATH.

    pyenv's shims are on PATH too, but fail for a version that is not activated: so each
    candidate is asked for its version.
    """
    pyenv_root = os.environ.get("PYENV_ROOT", str(pathlib.Path.home() / ".pyenv"))
    installed = glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}")
    candidates = sorted(installed, key=_version_key, reverse=True)
    candidates.append(shutil.which(f"python{version}"))
    for candidate in filter(None, candidates):
        if _reports_version(candidate) == version:
            return candidate
    return None


def _reports_version(python: str) -> str | None:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def requirement_names(step: Step) -> list[str]:
    """The packages a step's requirements.txt names, without their pins."""
    names = []
    for line in (step.path / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0])
    return names


def _venv_python(venv: pathlib.Path) -> pathlib.Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def _run(command: list[str]) -> None:
    _say(f"$ {' '.join(str(part) for part in command)}")
    subprocess.run(command, check=True)


def make_lane(python: str, step: Step, latest: bool) -> pathlib.Path:
    """A virtual environment holding the step's requirements; returns its interpreter.

    Pinned lanes are reused while requirements.txt and the interpreter stay the same;
    the latest lane is upgraded every time.
    """
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    venv = LANES_DIR / (f"latest-{version}" if latest else version)
    requirements = step.path / "requirements.txt"
    stamp = venv / ".installed"
    fingerprint = hashlib.sha256(requirements.read_bytes() + python.encode()).hexdigest()
    interpreter = _venv_python(venv)
    if not latest and stamp.is_file() and stamp.read_text() == fingerprint:
        return interpreter
    if not interpreter.is_file():
        _run([python, "-m", "venv", str(venv)])
    if latest:
        _run([str(interpreter), "-m", "pip", "install", "-q", "-U", *requirement_names(step)])
    else:
        _run([str(interpreter), "-m", "pip", "install", "-q", "-r", str(requirements)])
        stamp.write_text(fingerprint)
    return interpreter


def installed_versions(interpreter: pathlib.Path, names: list[str]) -> dict[str, str]:
    """{package: version} as installed in the lane, for the names asked."""
    listing = subprocess.run(
        [str(interpreter), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wanted = {_normalise(name) for name in names}
    return {
        package["name"]: package["version"]
        for package in json.loads(listing)
        if _normalise(package["name"]) in wanted
    }


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lane_pytest_command(step: Step, interpreter: pathlib.Path, latest: bool) -> list[str]:
    """pytest in the tooling's Python, serving the step with the lane's interpreter.

    A pinned lane runs LANE_TESTS; the latest lane runs all the step's acceptance tests,
    the slow ones too (the idle sockets caught redis-py 8 cutting sockets off).
    """
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    if latest:
        command += ["tests/acceptance", "tests/test_student_suite.py"]
    else:
        command += [*LANE_TESTS, "-m", "not slow"]
    return command + ["--step", str(step.number), "--step-python", str(interpreter)]


def run_lane(version: str, step: Step, latest: bool, workers: str, in_ci: bool) -> int:
    """Install and test one lane; 0 when it passes or (locally) when the Python is missing."""
    python = find_python(version)
    if python is None:
        _say(f"Python {version} is not on this machine. {install_hint(version)}")
        if in_ci:
            _say("CI=true: this lane must run, so it fails.")
            return 3
        _say(f"SKIPPED the Python {version} lane.")
        return 0
    kind = "newest releases" if latest else "requirements.txt"
    _say(f"Python {version} lane ({python}): {step.folder} with its {kind}")
    try:
        interpreter = make_lane(python, step, latest)
    except subprocess.CalledProcessError as error:
        _say(f"Installing the step on Python {version} failed (exit {error.returncode}).")
        return 1
    used = installed_versions(interpreter, requirement_names(step))
    listed = ", ".join(f"{name}=={number}" for name, number in used.items())
    _say(f"Packages in the Python {version} lane: {listed}")
    command = lane_pytest_command(step, interpreter, latest)
    if workers != "0":
        command += ["-n", workers]
    env = {key: value for key, value in os.environ.items() if key != "WORKSHOP_COVERAGE"}
    code = subprocess.call(command, cwd=REPO_ROOT, env=env)
    _say(f"Python {version} lane: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return code
