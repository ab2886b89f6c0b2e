"""`python -m workshop test`: the repository's test suite, whole or for some steps.

The whole suite ends with the coverage gate (every line of step code executed).
--step N and --changed run what concerns some steps (workshop/test_selection.py);
--python X.Y and --latest test the last step on another interpreter or on the newest
releases of its packages (workshop/python_lanes.py).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from .. import coverage_report
from ..browser import INSTALL_HINT as BROWSER_HINT
from ..browser import chromium_paths
from ..manifest import REPO_ROOT, Step, get_step, load_steps
from ..python_lanes import LATEST_PYTHON, run_lane
from ..redis_server import INSTALL_HINT as REDIS_HINT
from ..redis_server import find_redis_server
from ..temp_leftovers import watched_temp_dir
from ..test_selection import (
    SelectionError,
    changed_paths,
    classify,
    describe,
    pytest_args_for_steps,
)

# Three pytest workers, also on two cores: while one waits on a browser, a reconnecting page
# or a restarted Redis, another uses the processor. A whole run here: 764 s against 957 s
# with two (docs/testing.md).
DEFAULT_WORKERS = "3"


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def missing_prerequisites() -> list[str]:
    """What the suite needs that this machine lacks, each with how to install it."""
    missing = []
    if not (os.environ.get("REDIS_URL") or find_redis_server()):
        missing.append(f"redis-server (or REDIS_URL). {REDIS_HINT}")
    browser, driver = chromium_paths()
    if browser is None or driver is None:
        missing.append(f"Chromium and ChromeDriver. {BROWSER_HINT}")
    return missing


def _prerequisites_stop_the_run(in_ci: bool) -> bool:
    missing = missing_prerequisites()
    for item in missing:
        _say(f"MISSING: {item}")
    if missing and in_ci:
        _say("CI=true: nothing that matters may be skipped, so the run stops here.")
        return True
    if missing:
        _say("Tests that need what is missing will be skipped; each skip says what to install.")
    return False


def _pytest(args: list[str], workers: str, env: dict[str, str] | None = None) -> int:
    """pytest on `workers` workers, in a temp folder of its own that it must leave empty."""
    env = dict(os.environ) if env is None else env
    command = [sys.executable, "-m", "pytest", "-n", workers, *args]
    _say(f"Running: {' '.join(command[1:])}")
    with watched_temp_dir(env) as leftovers:
        code = subprocess.call(command, cwd=REPO_ROOT, env=env)
    if leftovers:
        _say("Left in the temp folder (now removed; the test that made them must clean up):")
        _say(f"  {', '.join(leftovers)}")
        code = code or 6  # 4 is the coverage gate below
    return code


def run_suite(pytest_args: list[str], workers: str = DEFAULT_WORKERS) -> int:
    """The whole suite, with the gate: every line of step code executed by some test."""
    env = dict(os.environ)
    env["WORKSHOP_COVERAGE"] = "1"  # tests/conftest.py runs Daphne under coverage.py
    coverage_report.erase()
    started = time.monotonic()
    # The measured processes write their data files into a folder of this run's own: a
    # `workshop test` that a test starts (tests/test_test_command.py) is a run too, and
    # must not erase the files this one has collected so far.
    with tempfile.TemporaryDirectory(prefix="workshop-coverage-") as data_dir:
        env["COVERAGE_FILE"] = str(pathlib.Path(data_dir) / ".coverage")
        code = _pytest(pytest_args, workers, env)
        elapsed = time.monotonic() - started
        unexplained = coverage_report.combine_and_report(pathlib.Path(data_dir))
    if unexplained and not pytest_args:  # only the whole suite must reach every line
        _say("Step code no test executed (run it in a test, or list it in OMITTED in")
        _say("workshop/coverage_report.py with the reason):")
        for line in unexplained:
            _say(f"  {line}")
        code = code or 4
    _say(f"Test suite finished in {elapsed:.0f} s with exit code {code}.")
    return code


def run_steps(steps: list[Step], pytest_args: list[str], workers: str = DEFAULT_WORKERS) -> int:
    """Everything that concerns these steps (no coverage gate: that is the whole suite's)."""
    started = time.monotonic()
    code = _pytest([*pytest_args_for_steps(steps), *pytest_args], workers)
    labels = ", ".join(str(step.number) for step in steps)
    _say(f"Tests of step(s) {labels} finished in {time.monotonic() - started:.0f} s, exit {code}.")
    return code


def run_changed(base: str, pytest_args: list[str], workers: str = DEFAULT_WORKERS) -> int:
    """The steps and test files that differ from `base`; the whole suite if the tooling did."""
    try:
        changes = classify(changed_paths(base))
    except SelectionError as error:
        _say(str(error))
        return 2
    if changes.nothing:
        _say(f"Nothing differs from {base}: no test to run.")
        return 0
    for line in describe(changes):
        _say(line)
    if changes.everything_depends_on:
        return run_suite(pytest_args, workers)
    code = run_steps(changes.steps, pytest_args, workers) if changes.steps else 0
    if changes.test_files:
        code = _pytest([*changes.test_files, *pytest_args], workers) or code
    return code


def run_lanes(versions: list[str], latest: bool, workers: str, in_ci: bool) -> int:
    """The last step on other Pythons (--python X.Y), or on the newest releases (--latest)."""
    last = load_steps()[-1]
    lanes = [(version, False) for version in versions]
    if latest:
        if in_ci:
            _say("--latest is for maintainers, outside CI: the newest releases change daily.")
            return 2
        lanes.append((LATEST_PYTHON, True))
    codes = [run_lane(version, last, latest_lane, workers, in_ci) for version, latest_lane in lanes]
    return max(codes, default=0)


def run_tests(args) -> int:
    """`workshop test` and its selections: --step N, --changed, --python X.Y, --latest."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    if _prerequisites_stop_the_run(in_ci):
        return 3
    workers = args.workers or DEFAULT_WORKERS
    if args.python or args.latest:
        return run_lanes(args.python or [], args.latest, workers, in_ci)
    if args.step:
        return run_steps([get_step(key) for key in args.step], args.pytest_args, workers)
    if args.changed:
        return run_changed(args.base, args.pytest_args, workers)
    return run_suite(args.pytest_args, workers)
