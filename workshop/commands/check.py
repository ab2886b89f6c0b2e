"""`python -m workshop check STEP [PATH]`: did I get step STEP right? A friendly report.

Runs the repository's own acceptance tests for the step (tests/acceptance, and for
the step that ships tests, tests/test_student_suite.py) on the student's folder:
the very same black-box tests, started with --project PATH --step N. By default only
those that find the step's usual mistakes, within a minute or so (check_plugin.py says
which); --full runs every one. Progress is shown while they run; afterwards each
failure gets the likely cause and its fix from workshop/hints.py (the rows of
docs/troubleshooting.md), found in the failure and the log of the step's server
(tests/conftest.py adds that log to a failing test's report).
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from ..hints import Found, find_hints
from ..manifest import REPO_ROOT, Step
from .doctor import check_project, render

POLL_SECONDS = 0.2
STILL_RUNNING_AFTER = 8.0  # seconds before a running test is announced


def _say(message: str = "") -> None:
    print(message, flush=True)


def pytest_command(
    step: Step, project: pathlib.Path | None, full: bool, basetemp: pathlib.Path
) -> list[str]:
    command = [sys.executable, "-m", "pytest", "tests/acceptance"]
    if step.has("student-tests"):
        command.append("tests/test_student_suite.py")
    command += ["--step", str(step.number)]
    if project is not None:
        command += ["--project", str(project)]
    command += ["-p", "workshop.check_plugin", "-p", "no:cacheprovider", "-q", "--color=no"]
    command += [f"--basetemp={basetemp}"]  # its own: never shares pytest's with another run
    if not full:
        command.append("--usual-mistakes")  # workshop/check_plugin.py chooses them
    return command


class Progress:
    """Reads the plugin's event file while pytest runs, and prints what happens."""

    def __init__(self, events_path: pathlib.Path):
        self.events_path = events_path
        self.offset = 0
        self.results: list[dict] = []
        self.module = None
        self.current: dict | None = None
        self.current_since = 0.0
        self.current_announced = False
        self.left_out = 0  # tests the run left for --full

    def poll(self) -> None:
        try:
            with open(self.events_path, encoding="utf-8") as events:
                events.seek(self.offset)
                chunk = events.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind("\n") + 1]
        self.offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            self.handle(json.loads(line))
        if (
            self.current
            and not self.current_announced
            and time.monotonic() - self.current_since > STILL_RUNNING_AFTER
        ):
            _say(f"  ...   still running: {self.current['title']}")
            self.current_announced = True

    def handle(self, event: dict) -> None:
        kind = event["event"]
        if kind == "collected":
            self.left_out = event.get("left_out", 0)
            if self.left_out:
                _say(
                    f"Running the {event['count']} tests that find this step's usual mistakes "
                    f"({self.left_out} more with --full)."
                )
            else:
                _say(f"Running {event['count']} tests.")
        elif kind == "fixture" and event["phase"] == "start":
            _say(f"  ...   {event['what']}")
        elif kind == "test-start":
            self.current, self.current_since = event, time.monotonic()
            self.current_announced = False
        elif kind == "result":
            self.current = None
            self.results.append(event)
            if event["module"] != self.module:
                self.module = event["module"]
                _say(f"\n  {self.module}")
            label = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[event["outcome"]]
            _say(f"  {label:<5} {event['title']}")


def group_by_hint(failures: list[dict]) -> tuple[list[tuple[Found, list[dict]]], list[dict]]:
    """[(hint, the failures it explains)], most failures first; and the failures with no hint."""
    groups: dict[str, tuple[Found, list[dict]]] = {}
    unexplained = []
    for failure in failures:
        found = find_hints(
            failure["crash"] + "\n" + failure["text"],
            test=failure["title"],
            capability=failure.get("capability") or "",
        )
        if not found:
            unexplained.append(failure)
        for hint in found:
            groups.setdefault(hint.hint.key, (hint, []))[1].append(failure)
    ordered = sorted(groups.values(), key=lambda group: (group[0].hint.generic, -len(group[1])))
    return ordered, unexplained


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report(results: list[dict], step: Step, log_path: pathlib.Path, rest: str = "") -> int:
    """The summary after the run; rest says how to run the tests it left out (if any)."""
    failures = [r for r in results if r["outcome"] == "failed"]
    skipped = [r for r in results if r["outcome"] == "skipped"]
    passed = len(results) - len(failures) - len(skipped)
    _say()
    _say(
        f"Result: {passed} of {len(results)} tests pass"
        + (f", {len(failures)} fail" if failures else "")
        + (f", {len(skipped)} skipped" if skipped else "")
        + "."
    )
    if failures:
        groups, unexplained = group_by_hint(failures)
        _say("\nWhat to fix (the likely causes, each a row of the troubleshooting page):")
        for number, (found, explained) in enumerate(groups, start=1):
            _say(f"\n  {number}. {found.why}")
            _say(f"     seen: {_short(found.seen)}")
            _say(f"     fix:  {found.fix}")
            _say(f"     row:  {found.hint.row}")
            names = ", ".join(failure["title"] for failure in explained[:3])
            more = f" and {len(explained) - 3} more" if len(explained) > 3 else ""
            _say(f"     in {len(explained)} test(s): {names}{more}")
        if unexplained:
            _say("\n  No hint for these; the server log in the full output below may tell:")
            for failure in unexplained:
                _say(f"     {failure['title']}: {_short(failure['crash'])}")
        _say("\nFailed tests, with what went wrong:")
        for failure in failures:
            _say(f"  FAIL  {failure['title']}")
            _say(f"        {_short(failure['crash'])}")
    if skipped:
        _say("\nSkipped, so this check is not complete:")
        reasons: dict[str, int] = {}
        for skip in skipped:
            reason = skip["crash"].removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, count in reasons.items():
            _say(f"  {count} test(s): {reason}")
    if failures or skipped:
        _say(f"\nThe tests' full output: {log_path}")
        if rest:
            _say(rest)
        return 1 if failures else 3
    if rest:
        _say(f"Step {step.number} looks right: every test of its usual mistakes passes.")
        _say(rest)
    else:
        _say(f"Step {step.number} is right: every test passes.")
    return 0


def the_rest(left_out: int, step: Step, path: str | None) -> str:
    """How to run the tests a run without --full left out."""
    if not left_out:
        return ""
    folder = f" {shlex.quote(path)}" if path else ""
    return (
        f"{left_out} more test(s) of step {step.number} were left out (the earlier steps' "
        "lessons beyond a first test each, more browser tests, the slow tests: sockets "
        "idle for a minute, a load test); to run them all, a few minutes:\n"
        f"  python3 -m workshop check {step.number}{folder} --full"
    )


def run_check(step: Step, path: str | None = None, full: bool = False) -> int:
    project = pathlib.Path(path).resolve() if path else None
    shown = project or step.path
    if not (shown / "manage.py").is_file():
        _say(f"[workshop] {shown} has no manage.py: give the folder of your Django project.")
        return 2
    _say(f"Checking {shown}")
    _say(f"against step {step.number}: {step.title}\n")

    _say("Your settings:")
    settings = check_project(shown, step)
    _say(render(settings))
    _say()

    scratch = pathlib.Path(tempfile.mkdtemp(prefix="workshop-check-"))
    events_path, log_path = scratch / "events.jsonl", scratch / "pytest-output.txt"
    env = dict(os.environ, WORKSHOP_CHECK_EVENTS=str(events_path), PYTHONUNBUFFERED="1")
    env.pop("WORKSHOP_COVERAGE", None)  # a student's folder is not the lesson's code
    command = pytest_command(step, project, full, basetemp=scratch / "tmp")
    progress = Progress(events_path)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            while process.poll() is None:
                progress.poll()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=60)
            _say("\nStopped.")
            return 130
    progress.poll()
    shutil.rmtree(scratch / "tmp", ignore_errors=True)  # the copies; the output stays

    if not progress.results:
        _say("\nThe tests did not run. The end of their output:")
        _say("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]))
        _say(f"\n(all of it: {log_path})")
        return 2
    code = report(progress.results, step, log_path, the_rest(progress.left_out, step, path))
    if code == 0 and any(result.failed for result in settings):
        _say("\nBut your settings have the problem(s) marked FAIL above: fix them too.")
        code = 1
    return code
