"""`python -m workshop test`: the repository's whole test suite, with step-code coverage."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .. import coverage_report
from ..browser import INSTALL_HINT as BROWSER_HINT
from ..browser import chromium_paths
from ..manifest import REPO_ROOT
from ..redis_server import INSTALL_HINT as REDIS_HINT
from ..redis_server import find_redis_server
from ..temp_leftovers import watched_temp_dir


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


def run_suite(pytest_args: list[str], workers: str = "2") -> int:
    missing = missing_prerequisites()
    in_ci = os.environ.get("CI", "").lower() == "true"
    for item in missing:
        _say(f"MISSING: {item}")
    if missing and in_ci:
        _say("CI=true: nothing that matters may be skipped, so the run stops here.")
        return 3
    if missing:
        _say("Tests that need what is missing will be skipped; each skip says what to install.")

    env = dict(os.environ)
    env["WORKSHOP_COVERAGE"] = "1"  # tests/conftest.py runs Daphne under coverage.py
    env["COVERAGE_FILE"] = str(coverage_report.DATA_FILE)
    coverage_report.erase()
    command = [sys.executable, "-m", "pytest", "-n", workers, "--dist", "loadgroup", *pytest_args]
    _say(f"Running: {' '.join(command[1:])}")
    started = time.monotonic()
    with watched_temp_dir(env) as leftovers:
        code = subprocess.call(command, cwd=REPO_ROOT, env=env)
    if leftovers:
        _say("Left in the temp folder (now removed; the test that made them must clean up):")
        _say(f"  {', '.join(leftovers)}")
        code = code or 6  # 4 is the coverage gate below
    elapsed = time.monotonic() - started
    unexplained = coverage_report.combine_and_report()
    if unexplained and not pytest_args:  # only the whole suite must reach every line
        _say("Step code no test executed (run it in a test, or list it in OMITTED in")
        _say("workshop/coverage_report.py with the reason):")
        for line in unexplained:
            _say(f"  {line}")
        code = code or 4
    _say(f"Test suite finished in {elapsed:.0f} s with exit code {code}.")
    return code
