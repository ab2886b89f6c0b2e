"""Fixtures for the repository's tests: which steps to test, Redis, Daphne, a browser.

The acceptance tests (tests/acceptance/) treat a step as a black box. Each one
names the capability it checks with @pytest.mark.needs("..."), and runs once
for every step in steps.toml that has it. With --project PATH --step N they run
against a student's own folder instead: the very same tests.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys

import pytest

from workshop.accounts import TEST_ACCOUNTS, create_accounts
from workshop.browser import BrowserUnavailable, start_chromium
from workshop.coverage_report import RCFILE
from workshop.manifest import Step, get_step, load_steps
from workshop.postgres_server import PostgresServer, PostgresUnavailable
from workshop.redis_server import RedisServer, RedisUnavailable
from workshop.step_server import StepServer, copy_project, project_env, run_manage
from workshop.step_worker import StepWorker

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(message: str):
    """Under CI nothing that matters may be skipped: fail. Locally: skip, naming the fix."""
    if IN_CI:
        pytest.fail(f"CI=true and this test cannot run: {message}", pytrace=False)
    pytest.skip(message)


@dataclasses.dataclass(frozen=True)
class StepUnderTest:
    """A manifest step (whose tests apply) and the folder being tested."""

    step: Step
    source: pathlib.Path

    def has(self, capability: str) -> bool:
        return self.step.has(capability)


def pytest_addoption(parser):
    group = parser.getgroup("workshop")
    group.addoption(
        "--project",
        metavar="PATH",
        help="run the acceptance tests on this folder (your own project) instead of the "
        "reference step; needs --step",
    )
    group.addoption("--step", metavar="N", help="only this step's acceptance tests")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(capability): run for every step whose manifest entry has it"
    )


def steps_under_test(config) -> list[StepUnderTest]:
    project, only = config.getoption("--project"), config.getoption("--step")
    if project and not only:
        raise pytest.UsageError("--project needs --step: which step's tests should it pass?")
    if only:
        step = get_step(only)
        source = pathlib.Path(project).resolve() if project else step.path
        return [StepUnderTest(step, source)]
    return [StepUnderTest(step, step.path) for step in load_steps()]


def pytest_generate_tests(metafunc):
    if "step" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    if marker is None:
        return  # the test parametrises `step` itself
    chosen = [s for s in steps_under_test(metafunc.config) if s.has(marker.args[0])]
    # One xdist group per step: a worker serves a step once and runs all its tests.
    params = [
        pytest.param(s, id=s.step.label, marks=pytest.mark.xdist_group(s.step.label))
        for s in chosen
    ]
    metafunc.parametrize("step", params)


# --- Redis --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server this test session starts on a free port (tests that restart it use this)."""
    try:
        server = RedisServer(workdir=tmp_path_factory.mktemp("redis")).start()
    except RedisUnavailable as error:
        unavailable(str(error))
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(request):
    """REDIS_URL if given, else the URL of this session's own redis-server."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    return request.getfixturevalue("redis_server").url


# --- PostgreSQL (steps with history run on it too) ----------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server this test session starts on a free port (see postgres_server.py)."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        unavailable(str(error))
    yield server
    server.close()


# --- Daphne serving a step -------------------------------------------------------------


class ServerPool:
    """Copies of steps, migrated once, each served by Daphne once per test session."""

    def __init__(self, scratch: pathlib.Path):
        self.scratch = scratch
        self.copies: dict[StepUnderTest, pathlib.Path] = {}
        self.servers: dict[StepUnderTest, StepServer] = {}
        self.runservers: dict[StepUnderTest, StepServer] = {}
        self.workers: dict[StepUnderTest, StepWorker] = {}
        self.extra: list[StepServer] = []
        rcfile = os.environ.get("WORKSHOP_COVERAGE") == "1"
        self.coverage_rcfile = RCFILE if rcfile else None

    def copy_of(self, under_test: StepUnderTest, env) -> pathlib.Path:
        if under_test not in self.copies:
            parent = self.scratch / f"{under_test.step.label}-{len(self.copies)}"
            parent.mkdir()
            copy = copy_project(under_test.source, parent)
            run_manage(copy, "migrate", "--verbosity", "0", env=env)
            if under_test.has("login"):
                create_accounts(copy, env, TEST_ACCOUNTS)
            self.copies[under_test] = copy
        return self.copies[under_test]

    @staticmethod
    def accounts(under_test: StepUnderTest) -> tuple:
        """The logins a served copy has: the tests log in with them (steps with users)."""
        return TEST_ACCOUNTS if under_test.has("login") else ()

    def shared(self, under_test: StepUnderTest, redis_url: str | None) -> StepServer:
        """The session's server for a step, (re)started when needed."""
        server = self.servers.get(under_test)
        if server is None or not server.running:
            server = self.start(under_test, redis_url)
            self.servers[under_test] = server
        return server

    def start(
        self, under_test: StepUnderTest, redis_url: str | None, measure: bool = True
    ) -> StepServer:
        """A new Daphne process for the step; measure=False skips coverage (load tests)."""
        env = project_env(redis_url)
        copy = self.copy_of(under_test, env)
        rcfile = self.coverage_rcfile if measure else None
        accounts = self.accounts(under_test)
        return StepServer(copy, env, coverage_rcfile=rcfile, accounts=accounts).start()

    def runserver(self, under_test: StepUnderTest, redis_url: str | None) -> StepServer:
        """The step started with `python manage.py runserver`, as a student starts it."""
        server = self.runservers.get(under_test)
        if server is None or not server.running:
            env = project_env(redis_url)
            copy = self.copy_of(under_test, env)
            server = Runserver(copy, env, accounts=self.accounts(under_test)).start()
            self.runservers[under_test] = server
        return server

    def worker(self, under_test: StepUnderTest, redis_url: str) -> StepWorker:
        """The step's `manage.py runworker mentions` (one per step), restarted when stopped."""
        worker = self.workers.get(under_test)
        if worker is None or not worker.running:
            env = project_env(redis_url)
            copy = self.copy_of(under_test, env)
            worker = StepWorker(copy, env, redis_url, coverage_rcfile=self.coverage_rcfile)
            self.workers[under_test] = worker.start()
        return worker

    def close(self) -> None:
        servers = [*self.servers.values(), *self.runservers.values(), *self.workers.values()]
        for server in [*servers, *self.extra]:
            server.stop()


class Runserver(StepServer):
    """`python manage.py runserver` (without the autoreloader) instead of Daphne itself.

    With "daphne" first in INSTALLED_APPS this is Daphne's runserver (ASGI); without
    it, Django's own WSGI server, which answers every WebSocket with 404.
    """

    def __init__(self, project_dir: pathlib.Path, env: dict[str, str], accounts: tuple = ()):
        super().__init__(project_dir, env, accounts=accounts)
        self.log_path = (
            self.project_dir.parent / f"runserver-{self.project_dir.name}-{self.port}.log"
        )

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]


SERVER_POOL = pytest.StashKey[ServerPool]()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory, pytestconfig):
    pool = ServerPool(tmp_path_factory.mktemp("steps"))
    pytestconfig.stash[SERVER_POOL] = pool  # for the server-log hook below
    yield pool
    pool.close()


def _redis_for(step: StepUnderTest, request) -> str | None:
    return request.getfixturevalue("redis_url") if step.has("groups") else None


@pytest.fixture
def server(step, server_pool, request) -> StepServer:
    """The step under test, served by Daphne (shared by the tests of that step)."""
    return server_pool.shared(step, _redis_for(step, request))


@pytest.fixture
def start_server(step, server_pool, request):
    """Start extra Daphne processes of the step under test; they stop after the test."""
    started = []

    def start(redis_url: str | None = None, measure: bool = True) -> StepServer:
        server = server_pool.start(step, redis_url or _redis_for(step, request), measure)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def runserver(step, server_pool, request) -> StepServer:
    """The step under test, started with `python manage.py runserver` (shared per step)."""
    return server_pool.runserver(step, _redis_for(step, request))


@pytest.fixture
def mentions_worker(step, server_pool, redis_url) -> StepWorker:
    """The step's Channels worker, `manage.py runworker mentions` (shared per step)."""
    return server_pool.worker(step, redis_url)


# --- The servers' own output in a failing test's report ---------------------------------
#
# A failing acceptance test gets a section with what the step's servers logged while it
# ran: the traceback a student needs is there (`python -m workshop check` reads it).

SERVER_LOG_LINES = 120
_LOG_SIZES = pytest.StashKey[dict]()


def _server_logs(item) -> list[pathlib.Path]:
    pool = item.config.stash.get(SERVER_POOL, None)
    callspec = getattr(item, "callspec", None)
    under_test = callspec.params.get("step") if callspec else None
    if pool is None or under_test not in pool.copies:
        return []
    return sorted(pool.copies[under_test].parent.glob("*.log"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.stash[_LOG_SIZES] = {path: path.stat().st_size for path in _server_logs(item)}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when == "teardown":
        return
    sizes = item.stash.get(_LOG_SIZES, {})
    for path in _server_logs(item):
        with open(path, "rb") as log:
            log.seek(sizes.get(path, 0))
            lines = log.read().decode(errors="replace").splitlines()
        if lines:
            tail = "\n".join(lines[-SERVER_LOG_LINES:])
            report.sections.append((f"server log {path.name}", tail))


# --- A real browser -------------------------------------------------------------------


def chromium_or_unavailable():
    try:
        return start_chromium()
    except BrowserUnavailable as error:
        unavailable(str(error))


@pytest.fixture(scope="session")
def chromium():
    driver = chromium_or_unavailable()
    yield driver
    driver.quit()


@pytest.fixture
def second_browser():
    """Another headless Chromium, with cookies (so a login) of its own, for this test only."""
    driver = chromium_or_unavailable()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    """Headless Chromium, left with one blank window after each test."""
    yield chromium
    handles = chromium.window_handles
    for handle in handles[1:]:
        chromium.switch_to.window(handle)
        chromium.close()
    chromium.switch_to.window(handles[0])
    chromium.get("about:blank")
