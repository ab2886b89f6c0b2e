"""Fixtures for the repository's tests: which steps to test, Redis, Daphne, a browser.

The acceptance tests (tests/acceptance/) treat a step as a black box. Each one
names the capability it checks with @pytest.mark.needs("..."), and runs once
for every step in steps.toml that has it. With --project PATH --step N they run
against a student's own folder instead: the very same tests. --step N alone
keeps, of every test that runs once per step, only step N's.

--step-python PATH serves the steps with another interpreter (a virtual
environment holding a step's requirements.txt): `workshop test --python 3.10`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import sys
import tempfile

import pytest

from tests.idle_sockets import IdleSockets
from tests.prepared_copies import PreparedCopies, shared_temp_dir
from tests.prerequisites import IN_CI, unavailable  # noqa: F401  (also for test modules)
from tests.scheduling import checks_after_a_wait, make_scheduler, worker_group
from tests.subjects import steps_where_changed
from workshop.accounts import TEST_ACCOUNTS, prepare_database
from workshop.browser import BrowserUnavailable, start_chromium
from workshop.coverage_report import RCFILE
from workshop.manifest import Step, get_step, load_steps
from workshop.postgres_server import PostgresServer, PostgresUnavailable
from workshop.redis_server import RedisServer, RedisUnavailable, with_database
from workshop.step_server import MACHINE_SENDER_LIMITS, StepServer, project_env
from workshop.step_worker import CeleryWorker, StepWorker

IDLE_CHECKED = pytest.StashKey[set]()  # the worker groups in which a test checks idle sockets


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
    group.addoption(
        "--step",
        metavar="N",
        action="append",
        help="only this step's tests, of the tests that run once per step (repeatable)",
    )
    group.addoption(
        "--step-python",
        metavar="PATH",
        default=sys.executable,
        help="the Python that runs the steps (Daphne, manage.py); default: this one",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(capability): run for every step whose manifest entry has it"
    )
    config.addinivalue_line(
        "markers",
        "subject(*parts): of those steps, only the first and where a part changed "
        "(tests/subjects.py)",
    )


def chosen_steps(config) -> list[Step]:
    """The steps named with --step, else every step of the manifest."""
    named = config.getoption("--step")
    return [get_step(key) for key in named] if named else load_steps()


def steps_under_test(config) -> list[StepUnderTest]:
    project, named = config.getoption("--project"), config.getoption("--step")
    if project and len(named or []) != 1:
        raise pytest.UsageError("--project needs one --step: which step's tests should it pass?")
    if project:
        return [StepUnderTest(get_step(named[0]), pathlib.Path(project).resolve())]
    return [StepUnderTest(step, step.path) for step in chosen_steps(config)]


def _step_of(value) -> Step | None:
    if isinstance(value, StepUnderTest):
        return value.step
    return value if isinstance(value, Step) else None


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item):
    """Mark every test that drives Chromium `browser`, as pyproject.toml describes the
    marker, so that `-m "not browser"` or `-k "not browser"` leaves them out."""
    if "browser" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.browser)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """--step: drop the tests that are parametrised with another step of the manifest.

    Tests marked `needs` are parametrised with the chosen steps only already (a test
    whose capability none of them has is left as a placeholder, dropped here); this
    catches the rest (diffs, READMEs, pins...). Tests about no step in particular stay.
    """
    wanted = {step.folder for step in chosen_steps(config)}
    other = [item for item in items if _about_other_steps(item, wanted) or _no_step_has_it(item)]
    if other:
        config.hook.pytest_deselected(items=other)
        dropped = set(map(id, other))
        items[:] = [item for item in items if id(item) not in dropped]
    # Checks of sockets left idle since their group's first test run last (see IdleSockets;
    # with xdist, tests/scheduling.py runs them a minute after their group began).
    items.sort(key=lambda item: checks_after_a_wait(item.nodeid))
    config.stash[IDLE_CHECKED] = {
        worker_group(item.nodeid)
        for item in items
        if "idle_sockets" in getattr(item, "fixturenames", ())
    }


def pytest_xdist_make_scheduler(config, log):
    """Work units per step and folder, the tests that check a wait late (tests/scheduling.py)."""
    return make_scheduler(config, log)


def _no_step_has_it(item) -> bool:
    """pytest's placeholder for a parametrisation with no values (no chosen step has it)."""
    skip = item.get_closest_marker("skip")
    return skip is not None and skip.kwargs.get("reason", "").startswith("got empty parameter set")


def _about_other_steps(item, wanted: set[str]) -> bool:
    callspec = getattr(item, "callspec", None)
    steps = [_step_of(value) for value in (callspec.params.values() if callspec else ())]
    return any(step is not None and step.folder not in wanted for step in steps)


def pytest_generate_tests(metafunc):
    if "step" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    if marker is None:
        return  # the test parametrises `step` itself
    chosen = [s for s in steps_under_test(metafunc.config) if s.has(marker.args[0])]
    subject = metafunc.definition.get_closest_marker("subject")
    if subject is not None and _subjects_apply(metafunc.config):
        # Only the steps where what the test exercises changed (tests/subjects.py).
        with_it = [step for step in load_steps() if step.has(marker.args[0])]
        changed = steps_where_changed(with_it, subject.args)
        chosen = [s for s in chosen if s.step in changed]
    metafunc.parametrize("step", chosen, ids=[s.step.label for s in chosen])


def _subjects_apply(config) -> bool:
    """Whether a test with a subject may leave out the steps where it is unchanged. Not on a
    student's folder (--project), nor under another Python (--step-python, the lanes): there
    every part is new, and the step that the test keeps is not in the run."""
    other_python = config.getoption("--step-python") != sys.executable
    return not config.getoption("--project") and not other_python


@pytest.fixture
def private_temp_dir():
    """A temp folder of the test's own, for the processes it starts (their browsers'
    profiles, a stopped command's scratch), removed after the test. Its path is short:
    Chromium's socket path must stay under 108 bytes, which pytest's tmp_path can pass."""
    with tempfile.TemporaryDirectory(prefix="t-", ignore_cleanup_errors=True) as folder:
        yield pathlib.Path(folder)


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


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server for this test alone, free to stop and restart."""
    try:
        server = RedisServer(workdir=tmp_path).start()
    except RedisUnavailable as error:
        unavailable(str(error))
    yield server
    server.close()


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


def prepare_copy(under_test: StepUnderTest, copy: pathlib.Path, env, python: str) -> None:
    """Make a fresh copy of a step servable: its database migrated and, on a step with
    users, the test accounts created in it."""
    accounts = TEST_ACCOUNTS if under_test.has("login") else ()
    prepare_database(copy, env, accounts, python=python)


def prepared_copy(
    prepared: PreparedCopies, under_test: StepUnderTest, parent: pathlib.Path, env, python: str
) -> pathlib.Path:
    """A copy of the step in parent, as prepare_copy leaves it: copied from the session's
    template of the step, which prepare_copy made once (tests/prepared_copies.py)."""
    return prepared.copy(
        under_test.source,
        parent,
        key=f"python={python} accounts={under_test.has('login')}",
        prepare=lambda copy: prepare_copy(under_test, copy, env, python),
    )


@pytest.fixture(scope="session")
def prepared_copies(tmp_path_factory) -> PreparedCopies:
    """The session's templates of migrated steps, shared by its pytest-xdist workers."""
    return PreparedCopies(shared_temp_dir(tmp_path_factory.getbasetemp()) / "prepared-steps")


class ServerPool:
    """Copies of steps, migrated once, each served by Daphne once per test session."""

    def __init__(
        self, scratch: pathlib.Path, prepared: PreparedCopies, python: str = sys.executable
    ):
        self.scratch = scratch
        self.prepared = prepared
        self.python = python
        self.copies: dict[StepUnderTest, pathlib.Path] = {}
        self.servers: dict[StepUnderTest, StepServer] = {}
        self.runservers: dict[StepUnderTest, StepServer] = {}
        self.extra: list[StepServer] = []  # kept for the session, e.g. the idle sockets' server
        self.workers: dict[StepUnderTest, StepWorker] = {}
        self.celery_workers: dict[StepUnderTest, CeleryWorker] = {}
        rcfile = os.environ.get("WORKSHOP_COVERAGE") == "1"
        self.coverage_rcfile = RCFILE if rcfile else None

    def copy_of(self, under_test: StepUnderTest, env) -> pathlib.Path:
        if under_test not in self.copies:
            parent = self.scratch / f"{under_test.step.label}-{len(self.copies)}"
            parent.mkdir()
            copy = prepared_copy(self.prepared, under_test, parent, env, self.python)
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
        self,
        under_test: StepUnderTest,
        redis_url: str | None,
        measure: bool = True,
        person_limits: bool = False,
        **extra: str,
    ) -> StepServer:
        """A new Daphne process for the step; measure=False skips coverage (load tests).
        Its per-user limits are raised (one machine sends for every member), unless
        person_limits: then it has the step's own (settings.py). extra: environment
        variables of its own (CHAT_JOBS_PER_USER="1", say)."""
        limits = {} if person_limits else MACHINE_SENDER_LIMITS
        env = project_env(redis_url, **{**limits, **extra})
        copy = self.copy_of(under_test, env)
        rcfile = self.coverage_rcfile if measure else None
        accounts = self.accounts(under_test)
        return StepServer(
            copy, env, coverage_rcfile=rcfile, accounts=accounts, python=self.python
        ).start()

    def runserver(self, under_test: StepUnderTest, redis_url: str | None) -> StepServer:
        """The step started with `python manage.py runserver`, as a student starts it."""
        server = self.runservers.get(under_test)
        if server is None or not server.running:
            env = project_env(redis_url, **MACHINE_SENDER_LIMITS)
            copy = self.copy_of(under_test, env)
            server = Runserver(copy, env, self.python, accounts=self.accounts(under_test)).start()
            self.runservers[under_test] = server
        return server

    def worker(self, under_test: StepUnderTest, redis_url: str, shared: bool = True) -> StepWorker:
        """The step's `manage.py runworker mentions` (one per step), restarted when stopped;
        shared=False starts another, for the caller to stop."""
        worker = self.workers.get(under_test) if shared else None
        if worker is None or not worker.running:
            env = project_env(redis_url)
            copy = self.copy_of(under_test, env)
            worker = StepWorker(
                copy, env, redis_url, coverage_rcfile=self.coverage_rcfile, python=self.python
            )
            worker.start()
            if shared:
                self.workers[under_test] = worker
        return worker

    def celery_worker(
        self, under_test: StepUnderTest, redis_url: str, shared: bool = True, pool: str = "threads"
    ) -> CeleryWorker:
        """The step's `celery -A chatsite worker` (threads pool): one per step, restarted
        when stopped; shared=False starts another (any pool), for the caller to stop."""
        worker = self.celery_workers.get(under_test) if shared else None
        if worker is None or not worker.running:
            env = project_env(redis_url)
            copy = self.copy_of(under_test, env)
            # 24 slots, where the README starts 20: a job that a test stopped frees its
            # slot a moment later, and the next test's 20 jobs must not wait for it.
            # Not measured with prefork: its jobs run in forked children.
            rcfile = self.coverage_rcfile if pool != "prefork" else None
            worker = CeleryWorker(
                copy, env, pool=pool, concurrency=24, coverage_rcfile=rcfile, python=self.python
            )
            worker.start()
            if shared:
                self.celery_workers[under_test] = worker
        return worker

    def close(self) -> None:
        servers = [*self.servers.values(), *self.runservers.values(), *self.extra]
        # All told to stop first, then waited for: they shut down side by side, not in turn.
        # (A worker stops on Ctrl-C, which lets coverage.py save what it measured.)
        for server in servers:
            if server.running:
                server.process.terminate()
        for server in [*servers, *self.workers.values(), *self.celery_workers.values()]:
            server.stop()


class Runserver(StepServer):
    """`python manage.py runserver` (without the autoreloader) instead of Daphne itself.

    With "daphne" first in INSTALLED_APPS this is Daphne's runserver (ASGI); without
    it, Django's own WSGI server, which answers every WebSocket with 404.
    """

    def __init__(
        self, project_dir: pathlib.Path, env: dict[str, str], python: str, accounts: tuple = ()
    ):
        super().__init__(project_dir, env, accounts=accounts, python=python)
        self.log_path = (
            self.project_dir.parent / f"runserver-{self.project_dir.name}-{self.port}.log"
        )

    def command(self) -> list[str]:
        return [self.python, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]


SERVER_POOL = pytest.StashKey[ServerPool]()


@pytest.fixture(scope="session")
def step_python(pytestconfig) -> str:
    """The interpreter that runs the steps (--step-python; default: this one)."""
    return pytestconfig.getoption("--step-python")


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory, pytestconfig, step_python, prepared_copies):
    pool = ServerPool(tmp_path_factory.mktemp("steps"), prepared_copies, step_python)
    pytestconfig.stash[SERVER_POOL] = pool  # for the server-log hook below
    yield pool
    pool.close()


REDIS_DATABASES = 16  # redis-server's default


def step_redis_url(redis_url: str, under_test: StepUnderTest) -> str:
    """The Redis database a step's servers and workers use: the step's number.

    On Channels' default layer a Redis database is a channel layer of its own, and it
    holds the step's Celery queue and cache too. A pytest worker serves several steps on
    one Redis and keeps each step's workers running: on a database of its own, no step's
    `runworker` or Celery worker takes another step's jobs, and no step's notifications
    reach another's pages. (Other users of the session's Redis: 0, the production stack 1
    and `workshop run` 2, each test file says which.)
    """
    number = under_test.step.number
    if number >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"step {number} needs Redis database {number}; Redis has {REDIS_DATABASES} "
            "(0-15) unless its `databases` setting says more: give it more, or number the "
            "steps' databases differently (tests/conftest.py, step_redis_url)"
        )
    return with_database(redis_url, number)


def _redis_for(step: StepUnderTest, request) -> str | None:
    if not step.has("groups"):
        return None
    return step_redis_url(request.getfixturevalue("redis_url"), step)


@pytest.fixture
def server(step, server_pool, request) -> StepServer:
    """The step under test, served by Daphne (shared by the tests of that step)."""
    return server_pool.shared(step, _redis_for(step, request))


@contextlib.contextmanager
def stopped_after(start):
    """A fixture's starter: start(...) as given, and every process it started stopped
    when the fixture ends (after the test)."""
    started = []

    def start_and_remember(*args, **kwargs):
        process = start(*args, **kwargs)
        started.append(process)
        return process

    try:
        yield start_and_remember
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def start_server(step, server_pool, request):
    """Start extra Daphne processes of the step under test; they stop after the test."""

    def start(
        redis_url: str | None = None,
        measure: bool = True,
        person_limits: bool = False,
        **env: str,
    ) -> StepServer:
        redis_url = redis_url or _redis_for(step, request)
        return server_pool.start(step, redis_url, measure, person_limits, **env)

    with stopped_after(start) as starter:
        yield starter


@pytest.fixture
def runserver(step, server_pool, request) -> StepServer:
    """The step under test, started with `python manage.py runserver` (shared per step)."""
    return server_pool.runserver(step, _redis_for(step, request))


# --- Sockets left idle while the step's other tests run ---------------------------------


@pytest.fixture(scope="session")
def idle_registry():
    opened: dict[StepUnderTest, IdleSockets] = {}
    yield opened
    for sockets in opened.values():
        sockets.close()


@pytest.fixture
def idle_sockets(step, server_pool, idle_registry, request) -> IdleSockets:
    """Sockets idle since the step's first test on this worker, on a Daphne of their own."""
    if step not in idle_registry:
        server = server_pool.start(step, _redis_for(step, request))
        server_pool.extra.append(server)
        idle_registry[step] = IdleSockets(server)
    return idle_registry[step]


@pytest.fixture(autouse=True)
def _open_idle_sockets_early(request):
    """With the first test of a step's group, open the sockets its idle test checks last."""
    if worker_group(request.node.nodeid) in request.config.stash.get(IDLE_CHECKED, set()):
        # Not this test's failure: the idle test tries again, and reports it.
        with contextlib.suppress(Exception):
            request.getfixturevalue("idle_sockets")


@pytest.fixture
def mentions_worker(step, server_pool, request) -> StepWorker:
    """The step's Channels worker, `manage.py runworker mentions` (shared per step), on the
    Redis of the `server` fixture."""
    return server_pool.worker(step, _redis_for(step, request))


@pytest.fixture
def start_mentions_worker(step, server_pool, request):
    """Start more `manage.py runworker mentions` processes of the step on the Redis of the
    `server` fixture; stopped after the test."""

    def start() -> StepWorker:
        return server_pool.worker(step, _redis_for(step, request), shared=False)

    with stopped_after(start) as starter:
        yield starter


@pytest.fixture
def celery_worker(step, server_pool, request) -> CeleryWorker:
    """The step's Celery worker, `celery -A chatsite worker` (shared per step), on the
    Redis of the `server` fixture."""
    return server_pool.celery_worker(step, _redis_for(step, request))


@pytest.fixture
def start_celery_worker(step, server_pool):
    """Start Celery workers of the step against a Redis of the test's; stopped after it."""

    def start(redis_url: str, pool: str = "threads") -> CeleryWorker:
        return server_pool.celery_worker(step, redis_url, shared=False, pool=pool)

    with stopped_after(start) as starter:
        yield starter


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
def any_users_browser(browser):
    """The session's browser, free to log in as anybody (tests/pages.py's log_in_as). Its
    cookies go afterwards: the other tests expect it logged in as the server's first
    account or not at all, never as another user."""
    yield browser
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})


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
