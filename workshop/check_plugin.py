"""A pytest plugin for `workshop check`: records what happens, one JSON line per event.

Loaded with `-p workshop.check_plugin`; writes to the file named by the environment
variable WORKSHOP_CHECK_EVENTS, which `workshop check` reads while the tests run
(progress) and afterwards (the report). Events:

    {"event": "collected", "count": N}
    {"event": "fixture", "name": ..., "phase": "start" | "done", "seconds": ...}
    {"event": "test-start", "nodeid": ..., "title": ...}
    {"event": "result", "nodeid", "module", "title", "outcome", "crash", "text", "seconds"}
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

# Fixtures slow enough to announce, with what they do, in a student's words.
ANNOUNCED = {
    "redis_server": "starting a redis-server for the tests",
    "server_pool": "copying your project",
    "server": "migrating a copy of your project and starting Daphne",
    "runserver": "starting `python manage.py runserver`",
    "mentions_worker": "starting `python manage.py runworker mentions`",
    "chromium": "starting headless Chromium",
    "celery_worker": "starting `celery -A chatsite worker`",
}


def _emit(record: dict) -> None:
    path = os.environ.get("WORKSHOP_CHECK_EVENTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as events:
        events.write(json.dumps(record) + "\n")


def plain_words(item) -> str:
    """A test's title: its docstring's first line, else its name as a sentence."""
    doc = (getattr(item, "function", None) and item.function.__doc__) or ""
    if doc.strip():
        title = doc.strip().splitlines()[0].rstrip(".")
    else:
        title = item.originalname.removeprefix("test_").replace("_", " ")
        title = title[:1].upper() + title[1:]
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        step = callspec.params.get("step")
        label = getattr(getattr(step, "step", None), "label", "")
        variant = "-".join(part for part in callspec.id.split("-") if part != label)
        if variant:
            title += f" ({variant})"
    return title


def module_title(item) -> str:
    """The module docstring's first paragraph, on one line."""
    doc = (getattr(item.module, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else item.module.__name__


_announced: set[str] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    name = fixturedef.argname
    announce = name in ANNOUNCED and name not in _announced
    if announce:
        _announced.add(name)
        _emit({"event": "fixture", "name": name, "phase": "start", "what": ANNOUNCED[name]})
    started = time.monotonic()
    yield
    if announce:
        seconds = round(time.monotonic() - started, 1)
        _emit({"event": "fixture", "name": name, "phase": "done", "seconds": seconds})


_results: dict[str, dict] = {}


def pytest_runtest_logstart(nodeid, location):
    _results[nodeid] = {"outcome": "passed", "crash": "", "text": "", "seconds": 0.0}


def pytest_runtest_setup(item):
    _emit({"event": "test-start", "nodeid": item.nodeid, "title": plain_words(item)})


def _failure_text(report) -> tuple[str, str]:
    crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or ""
    if not crash and isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        crash = str(report.longrepr[2])
    if not crash:
        crash = report.longreprtext.strip().splitlines()[-1] if report.longreprtext else ""
    # The error lines of the traceback (not the test's source), then the servers' logs.
    lines = [line[1:].strip() for line in report.longreprtext.splitlines() if line[:1] == "E"]
    parts = ["\n".join(lines) or report.longreprtext[-4000:]]
    parts += [f"--- {title} ---\n{content}" for title, content in report.sections]
    return crash.strip(), "\n".join(parts)


def pytest_runtest_logreport(report):
    record = _results.setdefault(
        report.nodeid, {"outcome": "passed", "crash": "", "text": "", "seconds": 0.0}
    )
    record["seconds"] += report.duration
    if report.failed and record["outcome"] != "failed":
        record["outcome"] = "failed"
        record["crash"], record["text"] = _failure_text(report)
    elif report.skipped and record["outcome"] == "passed":
        record["outcome"] = "skipped"
        record["crash"], _ = _failure_text(report)


def pytest_runtest_logfinish(nodeid, location):
    record = _results.pop(nodeid, None)
    if record is None:
        return
    item = _items.get(nodeid)
    record.update(
        event="result",
        nodeid=nodeid,
        title=plain_words(item) if item else nodeid,
        module=module_title(item) if item else "",
        seconds=round(record["seconds"], 1),
    )
    _emit(record)


_items: dict = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    _items.update({item.nodeid: item for item in session.items})
    _emit({"event": "collected", "count": len(session.items)})


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finished", "exitstatus": int(exitstatus)})
    sys.stdout.flush()
