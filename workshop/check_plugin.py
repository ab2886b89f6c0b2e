"""A pytest plugin for `workshop check`: records what happens, one JSON line per event.

Loaded with `-p workshop.check_plugin`; writes to the file named by the environment
variable WORKSHOP_CHECK_EVENTS, which `workshop check` reads while the tests run
(progress) and afterwards (the report). Events:

    {"event": "collected", "count": N, "left_out": M}
    {"event": "fixture", "name": ..., "phase": "start" | "done", "seconds": ...}
    {"event": "test-start", "nodeid": ..., "title": ...}
    {"event": "result", "nodeid", "module", "title", "capability", "outcome", "crash", "text",
     "seconds"}
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from .manifest import CAPABILITIES, get_step, load_steps

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


# --- The tests that find a step's usual mistakes (`check` without --full) ------------------


def pytest_addoption(parser):
    parser.getgroup("workshop").addoption(
        "--usual-mistakes",
        action="store_true",
        help="workshop check: only the tests that find the step's usual mistakes "
        "(workshop/check_plugin.py says which)",
    )


def _capability(item) -> str | None:
    marker = item.get_closest_marker("needs")
    return marker.args[0] if marker else None


def _first_step_with(capability: str) -> int:
    return next((s.number for s in load_steps() if capability in s.capabilities), 0)


def usual_mistakes(items: list, step) -> list:
    """Of the step's tests, those that find what a student's folder usually gets wrong:

    - every test of the capabilities the step brings (what the student just typed);
    - of each test file, the first test of each capability it checks: one per earlier
      lesson, which a later change can still break (a consumer that no longer echoes,
      runserver no longer ASGI);
    - one browser test: the first of the newest capability that has one (the page the
      student last changed); each browser test costs seconds of waiting for a page;
    - no slow test (sockets idle for a minute, a load test).

    The rest come with `check --full`.
    """
    previous = get_step(step.number - 1).capabilities if step.number > 1 else ()
    new = set(step.capabilities) - set(previous)
    quick = [item for item in items if item.get_closest_marker("slow") is None]
    kept, firsts = [], set()
    for item in quick:
        if item.get_closest_marker("browser") is not None:
            continue
        capability = _capability(item)
        first_of_its_file = (item.path, capability) not in firsts
        firsts.add((item.path, capability))
        if capability in new or first_of_its_file:
            kept.append(item)
    browser_tests = [item for item in quick if item.get_closest_marker("browser") is not None]
    if browser_tests:
        # The newest capability: the one whose first step comes last (then CAPABILITIES'
        # order); of its browser tests, the first.
        def newness(item):
            capability = _capability(item) or ""
            order = CAPABILITIES.index(capability) if capability in CAPABILITIES else -1
            return (_first_step_with(capability), order)

        newest = max(newness(item) for item in browser_tests)
        kept.append(next(item for item in browser_tests if newness(item) == newest))
    chosen = set(map(id, kept))
    return [item for item in items if id(item) in chosen]  # in the order pytest had them


_left_out: list[int] = [0]


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(session, config, items):
    yield  # after every other hook has chosen (-k, -m, --step): of what is left
    named = config.getoption("--step") or []
    if not config.getoption("--usual-mistakes") or len(named) != 1:
        return
    kept = usual_mistakes(items, get_step(named[0]))
    dropped = [item for item in items if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _left_out[0] = len(dropped)


# --- Progress and results -------------------------------------------------------------------

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
        capability=(_capability(item) if item else None) or "",
        seconds=round(record["seconds"], 1),
    )
    _emit(record)


_items: dict = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    _items.update({item.nodeid: item for item in session.items})
    _emit({"event": "collected", "count": len(session.items), "left_out": _left_out[0]})


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finished", "exitstatus": int(exitstatus)})
    sys.stdout.flush()
